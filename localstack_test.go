package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	awsconfig "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// Pulumi.local.yaml is the stack a new user tries first, against an AWS
// emulator on 127.0.0.1. These tests hold it to the program's config
// schema and the AWS provider's, so it does not rot as keys change.

const (
	localStack = "local"
	// buildEndpointKey is the project key whose value the build steps'
	// lambdapack gets as AWS_ENDPOINT_URL.
	buildEndpointKey = "buildEndpointUrl"
)

// The services the program's resources use, by their aws:endpoints key:
// the bucket, layer and function, the function's role, its log group, and
// STS, which the provider asks who it is.
var localServices = []string{"s3", "lambda", "iam", "logs", "sts"}

// localStackFile loads Pulumi.local.yaml with the Pulumi SDK's loader.
func localStackFile(t *testing.T) (*workspace.Project, *workspace.ProjectStack) {
	t.Helper()
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := workspace.LoadProjectStack(nil, proj, "Pulumi."+localStack+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return proj, ps
}

func TestLocalStackKeysAreDeclared(t *testing.T) {
	proj, ps := localStackFile(t)
	declared := map[string]setting{}
	for _, s := range settings() {
		declared[s.Key] = s
	}
	for key, v := range ps.Config {
		if key.Namespace() != project {
			continue
		}
		name := key.Name()
		s, ok := declared[name]
		if !ok {
			t.Errorf("Pulumi.local.yaml sets %s, which the program does not read (settings() has no %s)", key, name)
			continue
		}
		ct, ok := proj.Config[name]
		if !ok {
			t.Errorf("Pulumi.local.yaml sets %s, which Pulumi.yaml does not declare", key)
		} else if ct.Type == nil || *ct.Type != s.Type {
			t.Errorf("%s: Pulumi.yaml declares type %v, settings() %s", key, ct.Type, s.Type)
		}
		if s.Secret && !v.Secure() {
			t.Errorf("Pulumi.local.yaml: %s is a secret key but holds plain text", key)
		}
		if v.Secure() {
			continue
		}
		text, err := v.Value(config.NopDecrypter)
		if err != nil {
			t.Fatalf("Pulumi.local.yaml: %s: %v", key, err)
		}
		if err := checkType(s.Type, v.Object(), text); err != nil {
			t.Errorf("Pulumi.local.yaml: %s = %s: %v", key, text, err)
		}
	}
}

// checkType reports whether a config value (its text, and whether YAML
// gave it structure) has the declared type.
func checkType(typ string, structured bool, text string) error {
	switch typ {
	case "string":
		if structured {
			return errors.New("want a string, got a structured value")
		}
	case "integer":
		if _, err := strconv.Atoi(text); structured || err != nil {
			return errors.New("want a whole number")
		}
	case "boolean":
		if _, err := strconv.ParseBool(text); structured || err != nil {
			return errors.New("want true or false")
		}
	case "array":
		var items []any
		if err := json.Unmarshal([]byte(text), &items); !structured || err != nil {
			return errors.New("want a list")
		}
	default:
		return fmt.Errorf("unknown declared type %q", typ)
	}
	return nil
}

// awsProviderKeys returns the provider config keys the pulumi-aws SDK in
// go.mod reads (each config.Get*/Try* call in its config package), each
// with the Go type its getter returns: "string", "bool" or "int".
func awsProviderKeys(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command(goCommand(), "list", "-f", "{{.Dir}}", "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/config").Output()
	if err != nil {
		t.Fatalf("go list the pulumi-aws config package: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(dir, "config.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Type.Results == nil || len(fn.Type.Results.List) != 1 {
			continue
		}
		typ, ok := fn.Type.Results.List[0].Type.(*ast.Ident)
		if !ok {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(s, "aws:") {
					keys[strings.TrimPrefix(s, "aws:")] = typ.Name
				}
			}
			return true
		})
	}
	if len(keys) < 20 || keys["region"] != "string" || keys["skipCredentialsValidation"] != "bool" {
		t.Fatalf("read %d keys from %s/config.go (region: %q): the SDK's layout changed", len(keys), dir, keys["region"])
	}
	return keys
}

// goCommand returns the go command running these tests.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// endpointServices returns the service names aws:endpoints accepts, from
// the SDK's Endpoints type.
func endpointServices() []string {
	var out []string
	typ := reflect.TypeFor[awsconfig.Endpoints]()
	for i := range typ.NumField() {
		if tag := typ.Field(i).Tag.Get("pulumi"); tag != "" {
			out = append(out, tag)
		}
	}
	return out
}

// localEndpoints returns aws:endpoints of the local stack: service -> URL.
func localEndpoints(t *testing.T, ps *workspace.ProjectStack) map[string]string {
	t.Helper()
	v, ok := ps.Config[config.MustMakeKey("aws", "endpoints")]
	if !ok {
		t.Fatal("Pulumi.local.yaml sets no aws:endpoints: the provider would talk to AWS")
	}
	text, err := v.Value(config.NopDecrypter)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []map[string]string
	if err := json.Unmarshal([]byte(text), &blocks); err != nil || len(blocks) != 1 {
		t.Fatalf("aws:endpoints = %s: want a list of one map of service to URL (%v)", text, err)
	}
	return blocks[0]
}

func TestLocalStackAWSConfig(t *testing.T) {
	_, ps := localStackFile(t)
	known := awsProviderKeys(t)
	services := endpointServices()

	for key, v := range ps.Config {
		if key.Namespace() != "aws" {
			if key.Namespace() != project {
				t.Errorf("Pulumi.local.yaml sets %s: neither this project's key nor the aws provider's", key)
			}
			continue
		}
		typ, ok := known[key.Name()]
		if !ok {
			t.Errorf("Pulumi.local.yaml sets %s, which the aws provider does not know", key)
			continue
		}
		text, err := v.Value(config.NopDecrypter)
		if err != nil {
			t.Fatal(err)
		}
		switch typ {
		case "bool":
			if _, err := strconv.ParseBool(text); err != nil {
				t.Errorf("%s = %q: want true or false", key, text)
			}
		case "int":
			if _, err := strconv.Atoi(text); err != nil {
				t.Errorf("%s = %q: want a whole number", key, text)
			}
		}
	}

	// What makes the stack local: every AWS call goes to the emulator,
	// and nothing needs a real account.
	want := map[string]string{
		"skipCredentialsValidation": "true",
		"skipMetadataApiCheck":      "true",
		"skipRequestingAccountId":   "true",
		"s3UsePathStyle":            "true",
	}
	for name, w := range want {
		v, ok := ps.Config[config.MustMakeKey("aws", name)]
		got, _ := v.Value(config.NopDecrypter)
		if !ok || got != w {
			t.Errorf("aws:%s = %q, want %s", name, got, w)
		}
	}
	for _, name := range []string{"region", "accessKey", "secretKey"} {
		if v, ok := ps.Config[config.MustMakeKey("aws", name)]; !ok || v.Secure() {
			t.Errorf("aws:%s must be set in plain text: the emulator needs a region and some key, and a new user has no passphrase yet", name)
		}
	}

	endpoints := localEndpoints(t, ps)
	for svc := range endpoints {
		if !slices.Contains(services, svc) {
			t.Errorf("aws:endpoints names %q, which is not a service the aws provider knows", svc)
		}
	}
	for _, svc := range localServices {
		if _, ok := endpoints[svc]; !ok {
			t.Errorf("aws:endpoints has no %s: the program's %s calls would go to AWS", svc, svc)
		}
	}
	var emulator string
	for svc, u := range endpoints {
		checkLocalURL(t, "aws:endpoints "+svc, u)
		if emulator == "" {
			emulator = u
		} else if u != emulator {
			t.Errorf("aws:endpoints: %s is %s but another service is %s: one emulator serves them all", svc, u, emulator)
		}
	}

	// The build steps upload where the provider reads: otherwise the layer
	// version would be published from a bucket the zip never reached.
	v, ok := ps.Config[config.MustMakeKey(project, buildEndpointKey)]
	if !ok {
		t.Fatalf("Pulumi.local.yaml sets no %s:%s: the build steps would upload to AWS", project, buildEndpointKey)
	}
	build, _ := v.Value(config.NopDecrypter)
	checkLocalURL(t, project+":"+buildEndpointKey, build)
	if build != endpoints["s3"] {
		t.Errorf("%s:%s = %s, but the provider's S3 endpoint is %s", project, buildEndpointKey, build, endpoints["s3"])
	}
}

// checkLocalURL fails t unless u is an http URL on 127.0.0.1: the local
// stack must reach nothing beyond this machine.
func checkLocalURL(t *testing.T, what, u string) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Errorf("%s = %q: %v", what, u, err)
		return
	}
	if p.Scheme != "http" || p.Hostname() != "127.0.0.1" || p.Port() == "" || (p.Path != "" && p.Path != "/") {
		t.Errorf("%s = %q: want http://127.0.0.1:PORT, the emulator on this machine", what, u)
	}
}

// runStack runs the program as the CLI would for the named stack, with
// that stack file's config, against the mocks.
func runStack(t *testing.T, stack string) *mocks {
	t.Helper()
	m, err := runProgram(t, run{config: stackConfig(t, stack), stack: stack})
	if err != nil {
		t.Fatalf("program with Pulumi.%s.yaml: %v", stack, err)
	}
	return m
}

func TestLocalStackProgram(t *testing.T) {
	local := runStack(t, localStack)
	count := func(m *mocks, typ string) int {
		n := 0
		for _, r := range m.resources {
			if r.Type == typ {
				n++
			}
		}
		return n
	}
	// The local stack deploys the function and moves live, without the
	// self-test invocation an emulator cannot run; prod keeps it.
	if n := count(local, typeInvoke); n != 0 {
		t.Errorf("the local stack declares %d %s: smokeTest false should leave the self-test out", n, typeInvoke)
	}
	for _, typ := range []string{typeFunction, typeAlias, typeLayerVer, typeBucket} {
		if count(local, typ) != 1 {
			t.Errorf("the local stack declares %d %s, want 1; registered: %v", count(local, typ), typ, local.names())
		}
	}
	if n := count(runStack(t, prodStack), typeInvoke); n != 1 {
		t.Errorf("the prod stack declares %d %s, want 1 (its smoke test)", n, typeInvoke)
	}
	fn := local.find(t, typeFunction, "galerly-api-"+localStack)
	if got := strValue(t, fn, "name"); got != "galerly-api-"+localStack {
		t.Errorf("function name = %s, want galerly-api-%s (the default for the stack)", got, localStack)
	}

	// Both build steps upload to the emulator.
	_, ps := localStackFile(t)
	endpoint, _ := ps.Config[config.MustMakeKey(project, buildEndpointKey)].Value(config.NopDecrypter)
	var builds int
	for _, r := range local.resources {
		if r.Type != typeCommand {
			continue
		}
		builds++
		env := r.Inputs["environment"]
		var got resource.PropertyValue
		if env.IsObject() {
			got = env.ObjectValue()["AWS_ENDPOINT_URL"]
		}
		if !got.IsString() || got.StringValue() != endpoint {
			t.Errorf("build step %s: environment = %v, want AWS_ENDPOINT_URL=%s", r.Name, env, endpoint)
		}
	}
	if builds != 2 {
		t.Errorf("the local stack has %d build steps, want 2 (layer and function)", builds)
	}
	// And prod's do not: lambdapack there goes to AWS.
	for _, r := range runStack(t, prodStack).resources {
		if r.Type == typeCommand && r.Inputs["environment"].IsObject() {
			if v, ok := r.Inputs["environment"].ObjectValue()["AWS_ENDPOINT_URL"]; ok {
				t.Errorf("prod build step %s has AWS_ENDPOINT_URL=%v", r.Name, v)
			}
		}
	}
}
