package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/internal/testenv"
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
	return testenv.WriteTree(t, t.TempDir(), map[string]string{rel: text})
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
		{"artifacts bucket formatted as an IP address", map[string]string{"artifactsBucket": "10.0.0.1"},
			"", []string{"galerly-lambda:artifactsBucket", "IP address"}},

		// SnapStart.
		{"SnapStart on python3.11 (prod's runtime)", map[string]string{"snapStart": "true"},
			"", []string{"config galerly-lambda:snapStart:", "from python3.12 on", "galerly-lambda:functionRuntime is python3.11"}},
		{"SnapStart with a layer not built for the runtime", map[string]string{"snapStart": "true", "functionRuntime": "python3.12", "layerRuntimes": `["python3.11"]`},
			"", []string{"config galerly-lambda:snapStart:", "the layer is built for python3.11, not for the function's python3.12", "config galerly-lambda:functionRuntime:"}},
		{"SnapStart on python3.11 with a layer without it", map[string]string{"snapStart": "true", "layerRuntimes": `["python3.12"]`},
			"", []string{"galerly-lambda:snapStart", "from python3.12 on", "the layer is built for python3.12, not for the function's python3.11"}},
		{"snapStart not a boolean", map[string]string{"snapStart": "on-publish"},
			"", []string{"config galerly-lambda:snapStart:", `"on-publish": want true or false`}},
		{"logQueries not a boolean", map[string]string{"logQueries": "sometimes"},
			"", []string{"config galerly-lambda:logQueries:", `"sometimes": want true or false`}},

		// The photos bucket.
		{"photos bucket in capitals", map[string]string{"photosBucket": "Galerly-Photos"},
			"", []string{"galerly-lambda:photosBucket", `"Galerly-Photos" is not an S3 bucket name`, "lowercase"}},
		{"photos bucket as an s3:// URL", map[string]string{"photosBucket": "s3://galerly-photos"},
			"", []string{"galerly-lambda:photosBucket", `"s3://galerly-photos"`}},
		{"photos bucket as an ARN", map[string]string{"photosBucket": "arn:aws:s3:::galerly-photos"},
			"", []string{"galerly-lambda:photosBucket", "not an S3 bucket name"}},
		{"photos bucket too short", map[string]string{"photosBucket": "gp"},
			"", []string{"galerly-lambda:photosBucket", "3 to 63"}},
		{"photos bucket with two dots in a row", map[string]string{"photosBucket": "galerly..photos"},
			"", []string{"galerly-lambda:photosBucket", "two dots"}},
		{"photos bucket with a reserved suffix", map[string]string{"photosBucket": "galerly-photos-s3alias"},
			"", []string{"galerly-lambda:photosBucket", "suffix -s3alias is reserved"}},
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

		// Sharing.
		{"share account too short", map[string]string{"layerShareAccounts": `["11112222333"]`},
			"", []string{"galerly-lambda:layerShareAccounts", `[0] "11112222333" is not an AWS account ID (12 digits)`}},
		{"share account with dashes", map[string]string{"layerShareAccounts": `["111122223333","1111-2222-3333"]`},
			"", []string{"galerly-lambda:layerShareAccounts", `[1] "1111-2222-3333"`}},
		{"public not spelled as *", map[string]string{"layerShareAccounts": `["all"]`},
			"", []string{"galerly-lambda:layerShareAccounts", `"all"`, `or "*" (every account)`}},
		{"share account listed twice", map[string]string{"layerShareAccounts": `["111122223333","111122223333"]`},
			"", []string{"galerly-lambda:layerShareAccounts", "[1] 111122223333 is listed twice"}},
		{"organization in capitals", map[string]string{"layerShareOrganization": "o-A1B2C3D4E5"},
			"", []string{"galerly-lambda:layerShareOrganization", `"o-A1B2C3D4E5" is not an AWS Organization ID`}},
		{"organizational unit for an organization", map[string]string{"layerShareOrganization": "ou-ab12-cd34ef56"},
			"", []string{"galerly-lambda:layerShareOrganization", "o- then 10 to 32 lowercase letters or digits"}},
		{"organization ID too short", map[string]string{"layerShareOrganization": "o-abc"},
			"", []string{"galerly-lambda:layerShareOrganization"}},
		{"keepLayerVersions not a bool", map[string]string{"keepLayerVersions": "always"},
			"", []string{"galerly-lambda:keepLayerVersions", "always", "true or false"}},
		{"bytecode not a bool", map[string]string{"bytecode": "pyc"},
			"", []string{"galerly-lambda:bytecode", "pyc", "true or false"}},

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
	_, err := readLock(root, "locks/bad.txt", lock.Selection{})
	var le *lock.Error
	if !errors.As(err, &le) || le.File != "locks/bad.txt" || le.Line != 1 {
		t.Fatalf("err = %v, want a *lock.Error for locks/bad.txt line 1", err)
	}
}

// The program reads a lock as the build steps do: a FIFO is refused
// without blocking the preview, and a lock over lock.MaxFileBytes is
// refused as they refuse it; the message names the lock as config gives it.
func TestReadLockRefusesWhatTheBuildRefuses(t *testing.T) {
	root := writeLock(t, "locks/big.txt", "")
	if err := os.Truncate(filepath.Join(root, "locks", "big.txt"), lock.MaxFileBytes+1); err != nil {
		t.Fatal(err)
	}
	testenv.FIFO(t, filepath.Join(root, "locks", "fifo.txt"))
	for rel, want := range map[string]string{
		"locks/fifo.txt": "read lock locks/fifo.txt: locks/fifo.txt is a named pipe (FIFO), not a regular file",
		"locks/big.txt":  "read lock locks/big.txt: locks/big.txt is 16777217 bytes, more than the 16777216 bytes accepted here",
	} {
		testenv.NoBlock(t, "reading "+rel, func() {
			_, err := readLock(root, rel, lock.Selection{})
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), root) {
				t.Errorf("readLock(%s) = %v, want %q without the absolute folder", rel, err, want)
			}
		})
	}
}

// cliSet is one `pulumi config set` (or `set-all --json`) as the CLI
// v3.274.1 performs it on the stack file: it makes a config.Value from the
// arguments and calls the SDK's config.Map.Set, the function run here.
type cliSet struct {
	key   string // as typed: "layerRuntimes[0]" with --path
	value string
	path  bool        // --path
	typ   config.Type // --type; config.TypeUnknown without it
	// whole is `pulumi config set-all --json '{"KEY": {"value": VALUE,
	// "objectValue": ...}}'`: value is the JSON of the whole list.
	whole bool
}

func (s cliSet) String() string {
	switch {
	case s.whole:
		return fmt.Sprintf("set-all --json %s=%s", s.key, s.value)
	case s.path && s.typ == config.TypeString:
		return fmt.Sprintf("set --path --type string '%s' %s", s.key, s.value)
	case s.path:
		return fmt.Sprintf("set --path '%s' %s", s.key, s.value)
	}
	return fmt.Sprintf("set %s %s", s.key, s.value)
}

func (s cliSet) apply(t *testing.T, m config.Map) {
	t.Helper()
	v, path := config.NewTypedValue(s.value, s.typ), s.path
	if s.whole {
		v, path = config.NewObjectValue(s.value), true
	}
	if err := m.Set(config.MustMakeKey(project, s.key), v, path); err != nil {
		t.Fatalf("pulumi config %s: %v", s, err)
	}
}

// cliRefuses is what `pulumi preview` says of the stack's value for key
// before the program runs, "" when it accepts it: the check of pkg/v3
// workspace.validateStackConfigValue (v3.274.1), which holds the value
// against the type Pulumi.yaml declares with the SDK's
// workspace.ValidateConfigValue.
func cliRefuses(t *testing.T, proj *workspace.Project, m config.Map, key string) string {
	t.Helper()
	v, ok := m[config.MustMakeKey(project, key)]
	if !ok {
		return ""
	}
	ct := proj.Config[key]
	text, err := v.Value(config.NopDecrypter)
	if err != nil {
		t.Fatal(err)
	}
	var content any = text
	if v.Object() {
		if err := json.Unmarshal([]byte(text), &content); err != nil {
			t.Fatal(err)
		}
	}
	if workspace.ValidateConfigValue(*ct.Type, ct.Items, content) {
		return ""
	}
	return fmt.Sprintf("Stack 'prod' with configuration key '%s' must be of type '%s'", key, workspace.InferFullTypeName(*ct.Type, ct.Items))
}

// The list forms README shows are ones the CLI accepts and the program
// reads; the forms the CLI refuses are explained by the program as well,
// naming the key, should one ever reach it.
func TestListFormsAsTheCLIStoresThem(t *testing.T) {
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:lambda:us-east-1:123456789012:layer:ghostscript:3"
	for _, tc := range []struct {
		name string
		rm   string // `pulumi config rm` first
		sets []cliSet
		key  string
		// refused: the CLI refuses the stored value; the program is run on
		// it anyway and must explain it with every string of want.
		refused bool
		want    []string
		// check, for an accepted form, looks at what the program read.
		check func(t *testing.T, c *Config)
	}{
		{name: "runtimes item by item from [0]", rm: "layerRuntimes", key: "layerRuntimes",
			sets: []cliSet{{key: "layerRuntimes[0]", value: "python3.11", path: true}, {key: "layerRuntimes[1]", value: "python3.12", path: true}},
			check: func(t *testing.T, c *Config) {
				if got := c.Layer.Target.String(); got != "python3.11,python3.12/x86_64" {
					t.Errorf("layer target %s, want both runtimes", got)
				}
			}},
		// The trap README warns of: [0] alone is the whole list, the
		// default's other runtime is gone, and the function's runtime with
		// it.
		{name: "one runtime by --path replaces the default list", rm: "layerRuntimes", key: "layerRuntimes",
			sets: []cliSet{{key: "layerRuntimes[0]", value: "python3.12", path: true}},
			want: []string{project + ":functionRuntime", "python3.11 is not one of " + project + ":layerRuntimes (python3.12)"}},
		{name: "accounts item by item with --type string", key: "layerShareAccounts",
			sets: []cliSet{
				{key: "layerShareAccounts[0]", value: shareAccount, path: true, typ: config.TypeString},
				{key: "layerShareAccounts[1]", value: "*", path: true, typ: config.TypeString},
			},
			check: func(t *testing.T, c *Config) {
				if !slices.Equal(c.Sharing.Accounts, []string{shareAccount, "*"}) {
					t.Errorf("accounts %v, want [%s *]", c.Sharing.Accounts, shareAccount)
				}
			}},
		{name: "a whole list with set-all --json", key: "layerShareAccounts",
			sets: []cliSet{{key: "layerShareAccounts", value: `["` + shareAccount + `","` + shareOther + `"]`, whole: true}},
			check: func(t *testing.T, c *Config) {
				if !slices.Equal(c.Sharing.Accounts, []string{shareAccount, shareOther}) {
					t.Errorf("accounts %v, want [%s %s]", c.Sharing.Accounts, shareAccount, shareOther)
				}
			}},
		{name: "an account by --path without --type is a number", key: "layerShareAccounts",
			sets:    []cliSet{{key: "layerShareAccounts[0]", value: shareAccount, path: true}},
			refused: true, want: []string{project + ":layerShareAccounts", "[0] is the number " + shareAccount, "--type string"}},
		{name: "an item set from [1] leaves null at [0]", key: "extraLayerArns",
			sets:    []cliSet{{key: "extraLayerArns[1]", value: arn, path: true}},
			refused: true, want: []string{project + ":extraLayerArns", "[0] is empty (null)", "from [0] in order", "pulumi config rm extraLayerArns"}},
		{name: "a list set without --path is a string", rm: "layerRuntimes", key: "layerRuntimes",
			sets:    []cliSet{{key: "layerRuntimes", value: "python3.11"}},
			refused: true, want: []string{project + ":layerRuntimes", `"python3.11" is a single string, not a list`, "without --path", "--path --type string 'layerRuntimes[0]'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := prodStackFile(t)
			if tc.rm != "" {
				if err := ps.Config.Remove(config.MustMakeKey(project, tc.rm), false); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range tc.sets {
				s.apply(t, ps.Config)
			}
			refusal := cliRefuses(t, proj, ps.Config, tc.key)
			if got := refusal != ""; got != tc.refused {
				t.Fatalf("the CLI refuses the stored value: %v (%q), want %v", got, refusal, tc.refused)
			}
			cfg := stackConfigOf(t, proj, ps)
			c, err := loadWith(t, cfg, projectRoot(t))
			if tc.check != nil {
				if err != nil {
					t.Fatalf("program refused %s = %s: %v", tc.key, cfg[project+":"+tc.key], err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatalf("program accepted %s = %s", tc.key, cfg[project+":"+tc.key])
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// prodStackFile loads Pulumi.yaml and Pulumi.prod.yaml with the SDK's
// loaders, as the CLI does before it changes the stack file.
func prodStackFile(t *testing.T) (*workspace.Project, *workspace.ProjectStack) {
	t.Helper()
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := workspace.LoadProjectStack(nil, proj, "Pulumi.prod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return proj, ps
}

// stackConfigOf is stackConfig for a stack file in memory: Pulumi.yaml's
// defaults, overlaid by the stack's values, as text.
func stackConfigOf(t *testing.T, proj *workspace.Project, ps *workspace.ProjectStack) map[string]string {
	t.Helper()
	cfg := map[string]string{}
	for key, ct := range proj.Config {
		if ct.Default != nil {
			cfg[project+":"+key] = configText(t, ct.Default)
		}
	}
	for key, v := range ps.Config {
		text, err := v.Value(config.NopDecrypter)
		if err != nil {
			t.Fatal(err)
		}
		cfg[key.String()] = text
	}
	return cfg
}

// The committed stack files are in the form the CLI saves them in (what
// `pulumi stack init` and `pulumi config set` rewrite them to: booleans as
// quoted strings), so using the CLI leaves no diff in git beyond the
// encryptionsalt line `stack init` adds.
func TestStackFilesAsTheCLISavesThem(t *testing.T) {
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, stack := range []string{"prod", "local"} {
		t.Run(stack, func(t *testing.T) {
			file := "Pulumi." + stack + ".yaml"
			committed, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := workspace.LoadProjectStack(nil, proj, file)
			if err != nil {
				t.Fatal(err)
			}
			// What the CLI's SaveProjectStack calls.
			saved := filepath.Join(t.TempDir(), file)
			if err := ps.Save(saved); err != nil {
				t.Fatal(err)
			}
			resaved, err := os.ReadFile(saved)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(committed, resaved) {
				t.Errorf("%s is not in the form the CLI saves; it would be rewritten to:\n%s", file, resaved)
			}
		})
	}
}

// A boolean reads the same as a YAML boolean (how a person writes it) and
// as a quoted string (how the CLI saves it).
func TestBooleansInBothForms(t *testing.T) {
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	quoted, err := os.ReadFile("Pulumi.local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(quoted, []byte(`galerly-lambda:smokeTest: "false"`)) {
		t.Fatalf("Pulumi.local.yaml does not set smokeTest as the CLI writes it, \"false\"")
	}
	extra := "  galerly-lambda:bytecode: \"false\"\n  galerly-lambda:keepLayerVersions: \"false\"\n"
	quoted = append(quoted, extra...)
	bare := bytes.ReplaceAll(quoted, []byte(`: "false"`), []byte(": false"))
	bare = bytes.ReplaceAll(bare, []byte(`: "true"`), []byte(": true"))
	var got []*Config
	for _, text := range [][]byte{quoted, bare} {
		path := filepath.Join(t.TempDir(), "Pulumi.local.yaml")
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		ps, err := workspace.LoadProjectStack(nil, proj, path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := loadWith(t, stackConfigOf(t, proj, ps), projectRoot(t))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	if got[0].Function.SmokeTest || got[0].Bytecode || got[0].Layer.KeepVersions {
		t.Errorf("quoted \"false\" read as true: smokeTest %v, bytecode %v, keepLayerVersions %v", got[0].Function.SmokeTest, got[0].Bytecode, got[0].Layer.KeepVersions)
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Errorf("quoted and bare booleans read differently:\n quoted %+v\n bare   %+v", got[0], got[1])
	}
}

// Several problems arrive as one error, which the SDK reports under "1
// error occurred:"; the message itself counts and lists them.
func TestConfigProblemsAreCounted(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[project+":memorySize"] = "0"
	cfg[project+":timeout"] = "1000"
	cfg[project+":layerShareOrganization"] = "o-short"
	_, err := runProgram(t, run{config: cfg})
	if err == nil {
		t.Fatal("program accepted three bad keys")
	}
	msg := err.Error()
	// The SDK's header, then the program's count: what `pulumi preview`
	// prints.
	header := "the stack's config has 3 problems:"
	if !strings.Contains(msg, header) {
		t.Fatalf("error does not say how many problems there are (%q):\n%s", header, msg)
	}
	lines := strings.Split(msg[strings.Index(msg, header)+len(header):], "\n")[1:]
	var keys []string
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "  - config "+project+":"); ok {
			keys = append(keys, rest[:strings.Index(rest, ":")])
		}
	}
	slices.Sort(keys)
	if want := []string{"layerShareOrganization", "memorySize", "timeout"}; !slices.Equal(keys, want) {
		t.Errorf("listed keys %v, want one line each for %v:\n%s", keys, want, msg)
	}

	// One problem is its own message, with no count.
	cfg = stackConfig(t, "prod")
	cfg[project+":timeout"] = "1000"
	_, err = runProgram(t, run{config: cfg})
	if err == nil || strings.Contains(err.Error(), "problems") || !strings.Contains(err.Error(), "config "+project+":timeout: 1000 is out of range") {
		t.Errorf("one problem: %v, want its message alone", err)
	}

	// Each problem stays reachable: a bad lock keeps its file and line.
	root := copyProjectWith(t, map[string]string{"locks/bad.txt": "numpy==2.1.3\n"})
	cfg = stackConfig(t, "prod")
	cfg[project+":layerLock"] = "locks/bad.txt"
	cfg[project+":timeout"] = "1000"
	var loadErr error
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, loadErr = loadConfig(ctx, root)
		return nil
	}, pulumi.WithMocks(project, "prod", &mocks{}), func(info *pulumi.RunInfo) { info.Config = cfg })
	if err != nil {
		t.Fatal(err)
	}
	err = loadErr
	var le *lock.Error
	if !errors.As(err, &le) || le.File != "locks/bad.txt" || le.Line != 1 {
		t.Errorf("err = %v, want a *lock.Error for locks/bad.txt line 1 among the problems", err)
	}
}
