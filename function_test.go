package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/source"
	"github.com/galerly/galerly-lambda/build/target"
)

const (
	apiName       = "galerly-api-prod"
	layerName     = "galerly-image-processing"
	basicExecArn  = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
	mockLayerArn  = "arn:aws:lambda:us-east-1:" + mockAccount + ":layer:" + layerName + ":1"
	otherLayerArn = "arn:aws:lambda:us-east-1:" + mockAccount + ":layer:ghostscript:3"
	s3ReadOnly    = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
)

// functionResources lists "type::name" of what one function declares.
func functionResources(name string, smokeTest bool, policySlugs ...string) []string {
	out := []string{
		typeFuncComp + "::" + name,
		typeRole + "::" + name,
		typeAttach + "::" + name + "-basic-execution",
		typeLogGroup + "::" + name,
		typeCommand + "::" + name + "-build",
		typeFunction + "::" + name,
		typeAlias + "::" + name + "-live",
		// The saved Logs Insights queries (logQueries defaults to true).
		typeQuery + "::" + name + "-cold-starts",
		typeQuery + "::" + name + "-restores",
	}
	if smokeTest {
		out = append(out, typeInvoke+"::"+name+"-smoke-test")
	}
	for _, p := range policySlugs {
		out = append(out, typeAttach+"::"+name+"-"+p)
	}
	return out
}

// prodCodeKey is the code key build.CodeKey computes for the function the
// prod stack deploys, from the project folder root: the app/ folder and
// locks/function.txt, for python3.11 on x86_64, default excludes.
func prodCodeKey(t *testing.T, root string) string {
	t.Helper()
	tg, err := target.New([]string{"python3.11"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	key, err := build.CodeKey(filepath.Join(root, "app"), filepath.Join(root, "locks", "function.txt"), tg, source.Filter{}, lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestFunctionGraph(t *testing.T) {
	m := mustRun(t, run{config: stackConfig(t, "prod")})
	code := prodCodeKey(t, ".")
	s3Key := "functions/" + apiName + "/" + code + ".zip"

	t.Run("role", func(t *testing.T) {
		role := m.find(t, typeRole, apiName)
		var policy struct {
			Statement []struct {
				Effect    string
				Principal map[string]string
				Action    string
			}
		}
		if err := json.Unmarshal([]byte(strValue(t, role, "assumeRolePolicy")), &policy); err != nil {
			t.Fatal(err)
		}
		if len(policy.Statement) != 1 || policy.Statement[0].Principal["Service"] != "lambda.amazonaws.com" ||
			policy.Statement[0].Action != "sts:AssumeRole" || policy.Statement[0].Effect != "Allow" {
			t.Errorf("trust policy %+v, want only lambda.amazonaws.com allowed sts:AssumeRole", policy)
		}
		var attached []string
		for _, r := range m.resources {
			if r.Type == typeAttach {
				attached = append(attached, strValue(t, r, "policyArn"))
				if !r.inputFrom("role", typeRole, apiName) {
					t.Errorf("%s attaches to another role", r.Name)
				}
			}
		}
		if !slices.Equal(attached, []string{basicExecArn}) {
			t.Errorf("policies attached %v, want only %s", attached, basicExecArn)
		}
	})

	t.Run("log group", func(t *testing.T) {
		lg := m.find(t, typeLogGroup, apiName)
		if got := strValue(t, lg, "name"); got != "/aws/lambda/"+apiName {
			t.Errorf("log group %s, want the one Lambda writes to, /aws/lambda/%s", got, apiName)
		}
		if v := lg.Inputs["retentionInDays"]; !v.IsNumber() || v.NumberValue() != 30 {
			t.Errorf("retentionInDays = %v, want 30", v)
		}
	})

	t.Run("build step", func(t *testing.T) {
		cmd := m.find(t, typeCommand, apiName+"-build")
		if got := strList(t, cmd, "triggers"); !slices.Equal(got, []string{code}) {
			t.Errorf("triggers = %v, want the code key %s only", got, code)
		}
		want := "mkdir -p .lambdapack && go run ./build/cmd/lambdapack function --src app --lock locks/function.txt" +
			" --runtime python3.11 --arch x86_64 --with-layer-unzipped \"$LAYER_UNZIPPED_BYTES\" --name " + apiName +
			" --out .lambdapack/function-" + apiName + "-" + code + ".zip --upload s3://" + mockBucket + "/" + s3Key
		if got := strValue(t, cmd, "create"); got != want {
			t.Errorf("create =\n %s\nwant\n %s", got, want)
		}
		if got := strValue(t, cmd, "dir"); got != "." {
			t.Errorf("dir = %q, want the project folder", got)
		}
		env := cmd.Inputs["environment"].ObjectValue()
		if len(env) != 2 || env["AWS_REGION"].StringValue() != "us-east-1" || env[layerSizeVar].StringValue() != fmt.Sprint(mockUnzip) {
			t.Errorf("environment = %v, want AWS_REGION=us-east-1 and %s=%d (the layer's report)", env, layerSizeVar, mockUnzip)
		}
		if !cmd.inputFrom("environment", typeCommand, layerName+"-build") {
			t.Errorf("the layer size does not come from the layer's build step")
		}
		if !cmd.inputFrom("create", typeBucket, "artifacts") {
			t.Errorf("the upload does not wait for the bucket")
		}
		if !isURN(cmd.Parent, typeFuncComp, apiName) {
			t.Errorf("parent = %s, want the function component", cmd.Parent)
		}
	})

	t.Run("function", func(t *testing.T) {
		fn := m.find(t, typeFunction, apiName)
		if got := strList(t, fn, "layers"); !slices.Equal(got, []string{mockLayerArn}) {
			t.Errorf("layers = %v, want exactly the layer version [%s]", got, mockLayerArn)
		}
		if !fn.inputFrom("layers", typeLayerVer, layerName) {
			t.Errorf("layers do not come from the layer version")
		}
		if got := strValue(t, fn, "s3Key"); got != s3Key {
			t.Errorf("s3Key = %s, want %s (the key build.CodeKey computes)", got, s3Key)
		}
		for key, want := range map[string]string{
			"name": apiName, "s3Bucket": mockBucket, "runtime": "python3.11", "handler": "api.handler",
		} {
			if got := strValue(t, fn, key); got != want {
				t.Errorf("%s = %s, want %s", key, got, want)
			}
		}
		if got := strList(t, fn, "architectures"); !slices.Equal(got, []string{"x86_64"}) {
			t.Errorf("architectures = %v", got)
		}
		for key, want := range map[string]float64{"memorySize": 1024, "timeout": 30} {
			if v := fn.Inputs[resource.PropertyKey(key)]; !v.IsNumber() || v.NumberValue() != want {
				t.Errorf("%s = %v, want %v", key, v, want)
			}
		}
		if v := fn.Inputs["publish"]; !v.IsBool() || !v.BoolValue() {
			t.Errorf("publish = %v, want true: every change is a new version for the smoke test", v)
		}
		if !fn.inputFrom("role", typeRole, apiName) {
			t.Errorf("role does not come from the function's role")
		}
		if _, ok := fn.Inputs["environment"]; ok && stackConfig(t, "prod")[project+":stripeSecretKey"] == "" {
			t.Errorf("environment = %v, want none without stripeSecretKey", fn.Inputs["environment"])
		}
		for _, dep := range []struct{ typ, name string }{
			{typeCommand, apiName + "-build"}, {typeLogGroup, apiName}, {typeAttach, apiName + "-basic-execution"},
		} {
			if !fn.dependsOn(dep.typ, dep.name) {
				t.Errorf("the function does not depend on %s::%s", dep.typ, dep.name)
			}
		}
	})

	t.Run("smoke test", func(t *testing.T) {
		inv := m.find(t, typeInvoke, apiName+"-smoke-test")
		if got := strValue(t, inv, "qualifier"); got != mockVersion {
			t.Errorf("qualifier = %s, want the published version %s", got, mockVersion)
		}
		if !inv.inputFrom("qualifier", typeFunction, apiName) {
			t.Errorf("qualifier does not come from the function")
		}
		if got := strValue(t, inv, "functionName"); got != apiName {
			t.Errorf("functionName = %s", got)
		}
		var input map[string]string
		if err := json.Unmarshal([]byte(strValue(t, inv, "input")), &input); err != nil || len(input) != 1 || input["test"] != "imports" {
			t.Errorf("input = %s, want the self-test request {\"test\": \"imports\"}", strValue(t, inv, "input"))
		}
		trig := inv.Inputs["triggers"].ObjectValue()
		if trig["layers"].StringValue() != mockLayerArn || trig["codeKey"].StringValue() != code {
			t.Errorf("triggers = %v, want the layer ARN and the code key", trig)
		}
	})

	t.Run("live alias", func(t *testing.T) {
		alias := m.find(t, typeAlias, apiName+"-live")
		if got := strValue(t, alias, "name"); got != "live" {
			t.Errorf("name = %s", got)
		}
		if got := strValue(t, alias, "functionVersion"); got != mockVersion {
			t.Errorf("functionVersion = %s, want the smoke-tested %s", got, mockVersion)
		}
		if !alias.dependsOn(typeInvoke, apiName+"-smoke-test") {
			t.Errorf("the alias does not depend on the smoke test: %v", alias.Deps)
		}
		if !alias.inputFrom("functionVersion", typeInvoke, apiName+"-smoke-test") {
			t.Errorf("functionVersion is not the smoke test's checked result")
		}
	})
}

// A self-test answer that reports a broken package fails the update, naming
// the package, before the live alias is declared.
func TestSmokeTestFailureStopsTheAlias(t *testing.T) {
	broken := `{"ok": false, "errors": {"rawpy": "ImportError: libraw_r.so.23: cannot open shared object file"},` +
		` "packages": {"PIL": "11.0.0", "pillow_heif": "0.20.0", "numpy": "2.1.3"}, "raw": false, "heic": true, "python": "3.11.9"}`
	m, err := runProgram(t, run{config: stackConfig(t, "prod"), smoke: func(string) string { return broken }})
	if err == nil {
		t.Fatal("the update succeeded with a failing self-test")
	}
	for _, want := range []string{apiName, "version " + mockVersion, "rawpy", "libraw_r.so.23", "live alias stays"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q: %v", want, err)
		}
	}
	for _, r := range m.resources {
		if r.Type == typeAlias {
			t.Errorf("alias %s was declared despite the failed smoke test", r.Name)
		}
	}
}

// With the smoke test off (emulators), there is no invocation and the
// alias follows the published version directly.
func TestSmokeTestOff(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[project+":smokeTest"] = "false"
	m := mustRun(t, run{config: cfg})
	for _, r := range m.resources {
		if r.Type == typeInvoke {
			t.Errorf("invocation %s declared with smokeTest false", r.Name)
		}
	}
	alias := m.find(t, typeAlias, apiName+"-live")
	if got := strValue(t, alias, "functionVersion"); got != mockVersion {
		t.Errorf("functionVersion = %s, want %s", got, mockVersion)
	}
	if !alias.inputFrom("functionVersion", typeFunction, apiName) {
		t.Errorf("functionVersion does not come from the function")
	}
}

// Extra functions share the one layer (and any extra layers), the code
// and the policies, and each gets its own role, logs, build, smoke test
// and alias.
func TestExtraFunctions(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[project+":extraFunctions"] = `[{"name":"galerly-thumbs-prod","handler":"handlers.images.thumbnail","memorySize":2048},` +
		`{"name":"galerly-health-prod","handler":"handlers.health.get","timeout":"5"}]`
	cfg[project+":extraLayerArns"] = `["` + otherLayerArn + `"]`
	cfg[project+":functionPolicyArns"] = `["` + s3ReadOnly + `"]`
	out, m := exportedAndMocks(t, run{config: cfg})

	var want []string
	for _, name := range []string{apiName, "galerly-thumbs-prod", "galerly-health-prod"} {
		want = append(want, functionResources(name, true, "aws-AmazonS3ReadOnlyAccess")...)
	}
	var got []string
	for _, n := range m.names() {
		if !strings.Contains(n, "artifacts") && !strings.Contains(n, layerName) {
			got = append(got, n)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("function resources:\n got %v\nwant %v", got, want)
	}
	if n := len(slices.DeleteFunc(m.names(), func(s string) bool { return !strings.HasPrefix(s, typeLayerVer) })); n != 1 {
		t.Errorf("%d layer versions, want the one shared", n)
	}

	code := prodCodeKey(t, ".")
	for _, tc := range []struct {
		name, handler     string
		memory, timeout   float64
		attachedToOwnRole bool
	}{
		{apiName, "api.handler", 1024, 30, true},
		{"galerly-thumbs-prod", "handlers.images.thumbnail", 2048, 30, true},
		{"galerly-health-prod", "handlers.health.get", 1024, 5, true},
	} {
		fn := m.find(t, typeFunction, tc.name)
		if got := strList(t, fn, "layers"); !slices.Equal(got, []string{mockLayerArn, otherLayerArn}) {
			t.Errorf("%s layers = %v, want the stack's layer then the extra one", tc.name, got)
		}
		if got := strValue(t, fn, "handler"); got != tc.handler {
			t.Errorf("%s handler = %s, want %s", tc.name, got, tc.handler)
		}
		if got := fn.Inputs["memorySize"].NumberValue(); got != tc.memory {
			t.Errorf("%s memorySize = %v, want %v", tc.name, got, tc.memory)
		}
		if got := fn.Inputs["timeout"].NumberValue(); got != tc.timeout {
			t.Errorf("%s timeout = %v, want %v", tc.name, got, tc.timeout)
		}
		if got := strValue(t, fn, "s3Key"); got != "functions/"+tc.name+"/"+code+".zip" {
			t.Errorf("%s s3Key = %s, want its own copy of the one code key", tc.name, got)
		}
		if !fn.inputFrom("role", typeRole, tc.name) {
			t.Errorf("%s does not use its own role", tc.name)
		}
		att := m.find(t, typeAttach, tc.name+"-aws-AmazonS3ReadOnlyAccess")
		if strValue(t, att, "policyArn") != s3ReadOnly || !att.inputFrom("role", typeRole, tc.name) {
			t.Errorf("%s: the extra policy is not attached to its role", tc.name)
		}
		alias := m.find(t, typeAlias, tc.name+"-live")
		if !alias.dependsOn(typeInvoke, tc.name+"-smoke-test") {
			t.Errorf("%s alias does not wait for its own smoke test", tc.name)
		}
	}
	wantAliases := map[string]any{
		"galerly-thumbs-prod": functionArn("galerly-thumbs-prod") + ":live",
		"galerly-health-prod": functionArn("galerly-health-prod") + ":live",
	}
	if got := out["extraLiveAliasArns"]; fmt.Sprint(got) != fmt.Sprint(wantAliases) {
		t.Errorf("extraLiveAliasArns = %v, want %v", got, wantAliases)
	}
}

func TestPolicySlug(t *testing.T) {
	for arn, want := range map[string]string{
		basicExecArn: "aws-service-role-AWSLambdaBasicExecutionRole",
		"arn:aws:iam::123456789012:policy/galerly/photos-rw": "123456789012-galerly-photos-rw",
		"arn:aws-cn:iam::aws:policy/AmazonS3ReadOnlyAccess":  "aws-AmazonS3ReadOnlyAccess",
	} {
		if got := policySlug(arn); got != want {
			t.Errorf("policySlug(%s) = %s, want %s", arn, got, want)
		}
	}
}

const (
	stripeKeyName = project + ":stripeSecretKey"
	// testStripeKey is shaped like a Stripe test-mode secret key.
	testStripeKey = "sk_test_51HqLyjWDarjtT1zdp7dcT3stKeyN0tReal"
)

// walkSecrets calls fn with every string in v and whether it sits inside a
// secret.
func walkSecrets(path string, v resource.PropertyValue, inSecret bool, fn func(path, s string, secret bool)) {
	switch {
	case v.IsString():
		fn(path, v.StringValue(), inSecret)
	case v.IsArray():
		for i, e := range v.ArrayValue() {
			walkSecrets(fmt.Sprintf("%s[%d]", path, i), e, inSecret, fn)
		}
	case v.IsObject():
		for k, e := range v.ObjectValue() {
			walkSecrets(path+"."+string(k), e, inSecret, fn)
		}
	case v.IsSecret():
		walkSecrets(path, v.SecretValue().Element, true, fn)
	case v.IsOutput():
		walkSecrets(path, v.OutputValue().Element, inSecret || v.OutputValue().Secret, fn)
	}
}

// The Stripe key set with `pulumi config set --secret` reaches every
// function's environment as a secret, and nowhere in plain text: not in
// any resource's inputs (which are what state records) and not in the
// stack's outputs.
func TestStripeSecretKey(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[stripeKeyName] = testStripeKey
	cfg[project+":extraFunctions"] = `[{"name":"galerly-thumbs-prod","handler":"api.handler"}]`
	out, m := exportedAndMocks(t, run{config: cfg, secrets: []string{stripeKeyName}})

	for _, name := range []string{apiName, "galerly-thumbs-prod"} {
		fn := m.find(t, typeFunction, name)
		found := false
		walkSecrets("environment", fn.Inputs["environment"], false, func(path, s string, secret bool) {
			if path == "environment.variables.STRIPE_SECRET_KEY" && s == testStripeKey && secret {
				found = true
			}
		})
		if !found {
			t.Errorf("%s: environment = %v, want STRIPE_SECRET_KEY holding the key as a secret", name, fn.Inputs["environment"])
		}
	}
	seen := 0
	for _, r := range m.resources {
		for k, v := range r.Inputs {
			walkSecrets(string(k), v, false, func(path, s string, secret bool) {
				if strings.Contains(s, testStripeKey) {
					seen++
					if !secret {
						t.Errorf("%s::%s input %s holds the Stripe key in plain text", r.Type, r.Name, path)
					}
				}
			})
		}
	}
	if seen != 2 {
		t.Errorf("the key is in %d inputs, want exactly the two functions' environments", seen)
	}
	if len(out) == 0 {
		t.Fatal("no outputs")
	}
	for name, v := range out {
		if strings.Contains(fmt.Sprint(v), testStripeKey) {
			t.Errorf("output %s holds the Stripe key", name)
		}
	}
}

// The key must be stored encrypted and look like a secret key; the
// message names the key and never echoes the value.
func TestStripeSecretKeyRefused(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		secret      bool
		want        string
	}{
		{"stored in plain text", testStripeKey, false, "pulumi config set --secret stripeSecretKey"},
		{"a publishable key", "pk_live_51HqLyjWDarjtT1zdp7dcPublishable", true, "publishable key"},
		{"not a Stripe key", "hunter2", true, "does not look like a Stripe secret key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			cfg[stripeKeyName] = tc.value
			var secrets []string
			if tc.secret {
				secrets = []string{stripeKeyName}
			}
			m, err := runProgram(t, run{config: cfg, secrets: secrets})
			if err == nil {
				t.Fatal("program accepted the key")
			}
			if !strings.Contains(err.Error(), stripeKeyName) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %s named and %q", err, stripeKeyName, tc.want)
			}
			if strings.Contains(err.Error(), tc.value) {
				t.Errorf("error echoes the value: %v", err)
			}
			if names := m.names(); len(names) > 0 {
				t.Errorf("declared %v before failing", names)
			}
		})
	}
}

// Printing the config, as a failing test or a debug line might, does not
// print the key.
func TestSecretIsNotPrinted(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[stripeKeyName] = testStripeKey
	c, err := loadWithSecrets(t, cfg, []string{stripeKeyName}, projectRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Function.StripeSecretKey) != testStripeKey {
		t.Fatalf("the key was not read")
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, c.Function); strings.Contains(s, testStripeKey) {
			t.Errorf("Sprintf(%q, config) prints the key", format)
		}
	}
}

// The prod stack sets neither photosBucket nor snapStart, so its function
// keeps exactly the inputs it had before those keys existed: adding them
// to the program changes nothing the provider would update or replace.
// (The saved log queries are new resources beside it.)
func TestProdFunctionTakesNoNewInputs(t *testing.T) {
	m := mustRun(t, run{config: stackConfig(t, "prod")})
	fn := m.find(t, typeFunction, apiName)
	want := []string{"architectures", "handler", "layers", "memorySize", "name", "publish", "role", "runtime", "s3Bucket", "s3Key", "timeout"}
	if got := slices.Sorted(maps.Keys(fn.Inputs)); !slices.Equal(got, toKeys(want)) {
		t.Errorf("function inputs %v, want exactly %v", got, want)
	}
	if n := len(m.ofType(typeRolePol)); n != 0 {
		t.Errorf("%d inline role policies, want none without photosBucket", n)
	}
}

func toKeys(names []string) []resource.PropertyKey {
	out := make([]resource.PropertyKey, len(names))
	for i, n := range names {
		out[i] = resource.PropertyKey(n)
	}
	return out
}
