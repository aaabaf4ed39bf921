package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/lock"
)

// Pulumi.yaml declares exactly the keys the program reads, with the same
// types and defaults, and says what each is for: the README's table and
// `pulumi config` agree with what the program does.
func TestPulumiYamlDeclaresEverySetting(t *testing.T) {
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if proj.Name.String() != project || proj.Runtime.Name() != "go" {
		t.Errorf("project %s runtime %s, want %s on go", proj.Name, proj.Runtime.Name(), project)
	}
	declared := map[string]bool{}
	for key := range proj.Config {
		declared[key] = true
	}
	for _, s := range settings() {
		ct, ok := proj.Config[s.Key]
		if !ok {
			t.Errorf("Pulumi.yaml does not declare %s", s.Key)
			continue
		}
		delete(declared, s.Key)
		if ct.TypeName() != s.Type {
			t.Errorf("%s: Pulumi.yaml type %s, program reads %s", s.Key, ct.TypeName(), s.Type)
		}
		if s.Type == "array" && (ct.Items == nil || ct.Items.Type != s.Items) {
			t.Errorf("%s: Pulumi.yaml items %+v, program reads items of type %s", s.Key, ct.Items, s.Items)
		}
		// The CLI (workspace.ValidateStackConfigAndApplyProjectConfig)
		// merges a key's default into the stack as plain text, then fails
		// `pulumi preview` and `up` for a `secret: true` key that holds
		// plain text, naming that key. An optional secret must therefore
		// not be declared `secret: true`; the program enforces it instead.
		if ct.Secret && ct.Default != nil {
			t.Errorf("%s: Pulumi.yaml declares secret: true with a default: the CLI would fail every stack that does not set it (\"must be encrypted as it's secret\")", s.Key)
		}
		if ct.Secret && !s.Secret {
			t.Errorf("%s: Pulumi.yaml declares secret: true, the program reads it as plain config", s.Key)
		}
		if got, want := configText(t, ct.Default), configText(t, s.Default); got != want {
			t.Errorf("%s: Pulumi.yaml default %s, program default %s", s.Key, got, want)
		}
		if strings.TrimSpace(ct.Description) == "" {
			t.Errorf("%s: no description", s.Key)
		}
	}
	for key := range declared {
		t.Errorf("Pulumi.yaml declares %s, which the program never reads", key)
	}
}

// loadWith runs loadConfig under the Pulumi runtime with cfg and root.
func loadWith(t *testing.T, cfg map[string]string, root string) (*Config, error) {
	t.Helper()
	return loadWithSecrets(t, cfg, nil, root)
}

// loadWithSecrets is loadWith with the full keys in secrets marked as
// stored encrypted.
func loadWithSecrets(t *testing.T, cfg map[string]string, secrets []string, root string) (*Config, error) {
	t.Helper()
	var got *Config
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		c, err := loadConfig(ctx, root)
		got = c
		return err
	}, pulumi.WithMocks(project, "prod", &mocks{}), func(info *pulumi.RunInfo) {
		info.Config = cfg
		info.ConfigSecretKeys = secretKeys(run{config: cfg, secrets: secrets})
		info.RootDirectory = root
	})
	return got, err
}

func TestProdConfig(t *testing.T) {
	c, err := loadWith(t, stackConfig(t, "prod"), projectRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "us-east-1" {
		t.Errorf("region %q, want us-east-1", c.Region)
	}
	if c.ArtifactsBucket != "" {
		t.Errorf("artifactsBucket %q, want the stack to create one", c.ArtifactsBucket)
	}
	if c.Layer.Name != "galerly-image-processing" || c.Layer.LockPath != "locks/image-processing.txt" {
		t.Errorf("layer %s from %s", c.Layer.Name, c.Layer.LockPath)
	}
	if got := c.Layer.Target.String(); got != "python3.11,python3.12/x86_64" {
		t.Errorf("layer target %s, want python3.11,python3.12/x86_64", got)
	}
	f := c.Function
	if f.Name != "galerly-api-prod" || f.Runtime.String() != "python3.11" || f.Arch != "x86_64" {
		t.Errorf("function %s on %s/%s, want galerly-api-prod on python3.11/x86_64", f.Name, f.Runtime, f.Arch)
	}
	if f.MemorySize != 1024 || f.Timeout != 30 || f.LogRetentionDays != 30 || !f.SmokeTest {
		t.Errorf("function settings %+v, want Pulumi.yaml's defaults", f)
	}
	if f.Source != "app" || f.LockPath != "locks/function.txt" || f.Lock == nil || f.Handler != "api.handler" {
		t.Errorf("function code %s + %s, handler %s; want app + locks/function.txt, api.handler", f.Source, f.LockPath, f.Handler)
	}
	// The Stripe key is left out: prod may set it (encrypted) at any time.
	if f.ExtraLayerArns != nil || f.PolicyArns != nil || f.Extra != nil {
		t.Errorf("prod sets extra layers %v, policies %v, functions %v; want none",
			f.ExtraLayerArns, f.PolicyArns, f.Extra)
	}
	if want := prodCodeKey(t, "."); f.CodeKey != want {
		t.Errorf("code key %s, want %s (build.CodeKey of app/ and locks/function.txt)", f.CodeKey, want)
	}
}

// extraFunctions takes the shape `pulumi config set --path` writes (numbers
// for digits) and the one hand-written YAML may have (strings), and fills
// in the API function's memory and timeout.
func TestExtraFunctionsConfig(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[project+":memorySize"] = "512"
	cfg[project+":extraFunctions"] = `[{"name":"thumbs","handler":"handlers.images.thumbnail","memorySize":2048,"timeout":"60"},{"handler":"api.handler","name":"health"}]`
	c, err := loadWith(t, cfg, projectRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []ExtraFunction{
		{Name: "thumbs", Handler: "handlers.images.thumbnail", MemorySize: 2048, Timeout: 60},
		{Name: "health", Handler: "api.handler", MemorySize: 512, Timeout: 30},
	}
	if !reflect.DeepEqual(c.Function.Extra, want) {
		t.Errorf("extra functions %+v, want %+v", c.Function.Extra, want)
	}
}

// Without the CLI to fill in Pulumi.yaml's defaults, the program applies
// the same ones itself.
func TestDefaultsWithoutCLI(t *testing.T) {
	prod := stackConfig(t, "prod")
	withCLI, err := loadWith(t, prod, projectRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	bare := map[string]string{
		"aws:region":                  "us-east-1",
		project + ":functionName":     "galerly-api-prod",
		project + ":functionRuntime":  "python3.11",
		project + ":layerRuntimes":    `["python3.11","python3.12"]`,
		project + ":unrelatedSetting": "ignored",
	}
	for key, v := range prod {
		if v == secretStandIn { // a secret has no default to fall back on
			bare[key] = v
		}
	}
	without, err := loadWith(t, bare, projectRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withCLI, without) {
		t.Errorf("defaults differ:\n with CLI %+v\n without  %+v", withCLI, without)
	}
	delete(bare, project+":functionName")
	c, err := loadWith(t, bare, projectRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Function.Name != "galerly-api-prod" {
		t.Errorf("default function name %q, want galerly-api-<stack>", c.Function.Name)
	}
}

// writeLock writes a lock into a fresh project folder and returns the
// folder.
func writeLock(t *testing.T, rel, text string) string {
	t.Helper()
	root := t.TempDir()
	path := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// Bad config fails before any resource is declared, with messages that
// name the key (and, for a bad lock, the file and line).
func TestBadConfig(t *testing.T) {
	hash := strings.Repeat("a", 64)
	badLock := writeLock(t, "locks/bad.txt", "# a lock\nnumpy==2.1.3 --hash=sha256:"+hash+"\npillow>=11 --hash=sha256:"+hash+"\n")
	unhashed := writeLock(t, "locks/bad.txt", "numpy==2.1.3\n")
	badFnLock := copyProjectWith(t, map[string]string{"locks/function.txt": "# deps\nstripe==11.6.0 --hash=sha256:" + hash + "\nboto3 --hash=sha256:" + hash + "\n"})
	otherArchFnLock := copyProjectWith(t, map[string]string{"locks/function.txt": "stripe==11.6.0 ; platform_machine == 'aarch64' --hash=sha256:" + hash + "\n"})
	symlinked := copyProjectWith(t, nil)
	if err := os.Symlink("api.py", filepath.Join(symlinked, "app", "entry.py")); err != nil {
		t.Fatal(err)
	}
	layerArn := func(name string, version int) string {
		return fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:layer:%s:%d", name, version)
	}
	fiveLayers := fmt.Sprintf(`[%q,%q,%q,%q,%q]`, layerArn("a", 1), layerArn("b", 1), layerArn("c", 1), layerArn("d", 1), layerArn("e", 1))
	for _, tc := range []struct {
		name string
		set  map[string]string
		root string
		want []string // every one must be in the error
	}{
		{"unknown layer runtime", map[string]string{"layerRuntimes": `["python3.11","python2.7"]`},
			"", []string{"galerly-lambda:layerRuntimes", "python2.7"}},
		{"runtime list not a list", map[string]string{"layerRuntimes": `python3.11`},
			"", []string{"galerly-lambda:layerRuntimes", "not a list"}},
		{"empty runtime list", map[string]string{"layerRuntimes": `[]`},
			"", []string{"galerly-lambda:layerRuntimes", "empty"}},
		{"unknown architecture", map[string]string{"architecture": "amd64"},
			"", []string{"galerly-lambda:architecture", "amd64", "x86_64 or arm64"}},
		{"function runtime not in layer", map[string]string{"functionRuntime": "python3.13"},
			"", []string{"galerly-lambda:functionRuntime", "python3.13", "galerly-lambda:layerRuntimes"}},
		{"unknown function runtime", map[string]string{"functionRuntime": "nodejs20.x"},
			"", []string{"galerly-lambda:functionRuntime", "nodejs20.x"}},
		{"missing lock", map[string]string{"layerLock": "locks/missing.txt"},
			"", []string{"galerly-lambda:layerLock", "locks/missing.txt", "does not exist"}},
		{"absolute lock", map[string]string{"layerLock": "/etc/passwd"},
			"", []string{"galerly-lambda:layerLock", "absolute"}},
		{"lock outside the project", map[string]string{"layerLock": "../locks/x.txt"},
			"", []string{"galerly-lambda:layerLock", "inside the project folder"}},
		{"lock path needing quotes", map[string]string{"layerLock": "locks/my lock.txt"},
			"", []string{"galerly-lambda:layerLock", "only letters"}},
		{"invalid lock", map[string]string{"layerLock": "locks/bad.txt"},
			badLock, []string{"galerly-lambda:layerLock", "locks/bad.txt:3"}},
		{"lock without hashes", map[string]string{"layerLock": "locks/bad.txt"},
			unhashed, []string{"galerly-lambda:layerLock", "locks/bad.txt:1", "hash"}},
		{"memory too small", map[string]string{"memorySize": "64"},
			"", []string{"galerly-lambda:memorySize", "64", "128 to 10240"}},
		{"memory too large", map[string]string{"memorySize": "10241"},
			"", []string{"galerly-lambda:memorySize", "10241"}},
		{"memory not a number", map[string]string{"memorySize": "1GB"},
			"", []string{"galerly-lambda:memorySize", "1GB"}},
		{"timeout zero", map[string]string{"timeout": "0"},
			"", []string{"galerly-lambda:timeout", "1 to 900"}},
		{"timeout too long", map[string]string{"timeout": "901"},
			"", []string{"galerly-lambda:timeout", "901"}},
		{"log retention CloudWatch refuses", map[string]string{"logRetentionDays": "10"},
			"", []string{"galerly-lambda:logRetentionDays", "10"}},
		{"smoke test not a bool", map[string]string{"smokeTest": "sometimes"},
			"", []string{"galerly-lambda:smokeTest", "sometimes"}},
		{"bad layer name", map[string]string{"layerName": "image processing"},
			"", []string{"galerly-lambda:layerName"}},
		{"bad function name", map[string]string{"functionName": "galerly/api"},
			"", []string{"galerly-lambda:functionName"}},
		{"function name too long for its role's name", map[string]string{"functionName": strings.Repeat("f", 57)},
			"", []string{"galerly-lambda:functionName", "1 to 56", "IAM allows 64"}},
		{"extra function name too long", map[string]string{"extraFunctions": `[{"name":"` + strings.Repeat("x", 57) + `","handler":"api.handler"}]`},
			"", []string{"galerly-lambda:extraFunctions", "1 to 56"}},
		{"bad bucket name", map[string]string{"artifactsBucket": "Galerly_Artifacts"},
			"", []string{"galerly-lambda:artifactsBucket"}},
		{"several at once", map[string]string{"memorySize": "0", "timeout": "1000", "architecture": "sparc"},
			"", []string{"galerly-lambda:memorySize", "galerly-lambda:timeout", "galerly-lambda:architecture"}},

		{"build endpoint not http", map[string]string{"buildEndpointUrl": "s3.local:4566"},
			"", []string{"galerly-lambda:buildEndpointUrl", "http://HOST:PORT"}},
		{"build endpoint with a path", map[string]string{"buildEndpointUrl": "http://127.0.0.1:4566/s3"},
			"", []string{"galerly-lambda:buildEndpointUrl", "only the scheme, host and port"}},
		{"build endpoint with credentials", map[string]string{"buildEndpointUrl": "http://admin:hunter2@127.0.0.1:4566"},
			"", []string{"galerly-lambda:buildEndpointUrl", "credentials", "admin:xxxxx@"}},

		// The function's code, lock and handler.
		{"missing source folder", map[string]string{"functionSource": "src"},
			"", []string{"galerly-lambda:functionSource", "folder src does not exist"}},
		{"absolute source folder", map[string]string{"functionSource": "/srv/app"},
			"", []string{"galerly-lambda:functionSource", "absolute"}},
		{"source folder is a file", map[string]string{"functionSource": "go.mod"},
			"", []string{"galerly-lambda:functionSource", "not a folder"}},
		{"missing function lock", map[string]string{"functionLock": "locks/missing.txt"},
			"", []string{"galerly-lambda:functionLock", "locks/missing.txt", "does not exist"}},
		{"invalid function lock", nil,
			badFnLock, []string{"galerly-lambda:functionLock", "locks/function.txt:3"}},
		{"symlink in the source folder", nil,
			symlinked, []string{"galerly-lambda:functionSource", "entry.py"}},
		{"function lock for another architecture", nil,
			otherArchFnLock, []string{"galerly-lambda:functionLock", "no requirement for python3.11/x86_64"}},
		{"handler not module.function", map[string]string{"functionHandler": "api:handler"},
			"", []string{"galerly-lambda:functionHandler", "module.function"}},
		{"handler module missing", map[string]string{"functionHandler": "apy.handler"},
			"", []string{"galerly-lambda:functionHandler", "module apy is not in app"}},
		// app/tests/events.py exists but the default excludes keep it out
		// of the package: Lambda would not find it.
		{"handler module not shipped", map[string]string{"functionHandler": "tests.events.http_v2"},
			"", []string{"galerly-lambda:functionHandler", "module tests/events is not in app", "among the files that ship"}},

		// Layers.
		{"more than five layers", map[string]string{"extraLayerArns": fiveLayers},
			"", []string{"galerly-lambda:extraLayerArns", "5 extra layers", "make 6", "at most 5"}},
		{"extra layer not a version ARN", map[string]string{"extraLayerArns": `["arn:aws:lambda:us-east-1:123456789012:layer:a"]`},
			"", []string{"galerly-lambda:extraLayerArns", "not a layer version ARN"}},
		{"extra layer in another region", map[string]string{"extraLayerArns": `["arn:aws:lambda:eu-west-1:123456789012:layer:a:4"]`},
			"", []string{"galerly-lambda:extraLayerArns", "eu-west-1", "us-east-1"}},
		{"two versions of one extra layer", map[string]string{"extraLayerArns": fmt.Sprintf(`[%q,%q]`, layerArn("a", 1), layerArn("a", 2))},
			"", []string{"galerly-lambda:extraLayerArns", "versions of one layer"}},
		{"extra layers not a list", map[string]string{"extraLayerArns": layerArn("a", 1)},
			"", []string{"galerly-lambda:extraLayerArns", "not a list"}},

		// Policies.
		{"policy not an ARN", map[string]string{"functionPolicyArns": `["AmazonS3ReadOnlyAccess"]`},
			"", []string{"galerly-lambda:functionPolicyArns", "not an IAM managed policy ARN"}},
		{"policy listed twice", map[string]string{"functionPolicyArns": `["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess","arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]`},
			"", []string{"galerly-lambda:functionPolicyArns", "twice"}},
		{"basic execution listed", map[string]string{"functionPolicyArns": `["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]`},
			"", []string{"galerly-lambda:functionPolicyArns", "already"}},

		// Extra functions.
		{"extra functions not a list of objects", map[string]string{"extraFunctions": `["galerly-thumbs-prod"]`},
			"", []string{"galerly-lambda:extraFunctions", "not a list of objects", "--path"}},
		{"extra function without a name", map[string]string{"extraFunctions": `[{"handler":"api.handler"}]`},
			"", []string{"galerly-lambda:extraFunctions", "[0] has no name"}},
		{"extra function without a handler", map[string]string{"extraFunctions": `[{"name":"thumbs"}]`},
			"", []string{"galerly-lambda:extraFunctions", "[0] (thumbs) has no handler"}},
		{"extra function with a bad name", map[string]string{"extraFunctions": `[{"name":"thumbs prod","handler":"api.handler"}]`},
			"", []string{"galerly-lambda:extraFunctions", `name "thumbs prod"`}},
		{"extra function named like the API function", map[string]string{"extraFunctions": `[{"name":"galerly-api-prod","handler":"api.handler"}]`},
			"", []string{"galerly-lambda:extraFunctions", "the API function's"}},
		{"two extra functions with one name", map[string]string{"extraFunctions": `[{"name":"a","handler":"api.handler"},{"name":"a","handler":"api.handler"}]`},
			"", []string{"galerly-lambda:extraFunctions", "[1] (a) name a is taken by [0]"}},
		{"extra function with an unknown field", map[string]string{"extraFunctions": `[{"name":"a","handler":"api.handler","memory":512}]`},
			"", []string{"galerly-lambda:extraFunctions", `unknown field "memory"`}},
		{"extra function memory out of range", map[string]string{"extraFunctions": `[{"name":"a","handler":"api.handler","memorySize":64}]`},
			"", []string{"galerly-lambda:extraFunctions", "memorySize 64 is out of range"}},
		{"extra function timeout out of range", map[string]string{"extraFunctions": `[{"name":"a","handler":"api.handler","timeout":"901"}]`},
			"", []string{"galerly-lambda:extraFunctions", "timeout 901 is out of range"}},
		{"extra function timeout not a number", map[string]string{"extraFunctions": `[{"name":"a","handler":"api.handler","timeout":"fast"}]`},
			"", []string{"galerly-lambda:extraFunctions", "want a whole number"}},
		{"extra function handler module missing", map[string]string{"extraFunctions": `[{"name":"a","handler":"thumbs.handler"}]`},
			"", []string{"galerly-lambda:extraFunctions", "[0] (a) handler", "module thumbs is not in app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			for k, v := range tc.set {
				cfg[project+":"+k] = v
			}
			root := tc.root
			if root == "" {
				root = projectRoot(t)
			}
			m, err := runProgram(t, run{config: cfg, root: root})
			if err == nil {
				t.Fatal("program accepted the config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if names := m.names(); len(names) > 0 {
				t.Errorf("declared %v before failing, want nothing", names)
			}
			if strings.Contains(err.Error(), root+string(filepath.Separator)) {
				t.Errorf("error names the absolute folder %s; want paths relative to the project: %v", root, err)
			}
		})
	}
}

// The lock's errors are the build/lock package's *Error, so tools can get
// at the file and line.
func TestLockErrorKeepsFileAndLine(t *testing.T) {
	root := writeLock(t, "locks/bad.txt", "numpy==2.1.3\n")
	_, err := readLock(root, "locks/bad.txt")
	var le *lock.Error
	if !errors.As(err, &le) || le.File != "locks/bad.txt" || le.Line != 1 {
		t.Fatalf("err = %v, want a *lock.Error for locks/bad.txt line 1", err)
	}
}
