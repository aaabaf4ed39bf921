package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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
		if s.Type == "array" && (ct.Items == nil || ct.Items.Type != "string") {
			t.Errorf("%s: want items of type string", s.Key)
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
	var got *Config
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		c, err := loadConfig(ctx, root)
		got = c
		return err
	}, pulumi.WithMocks(project, "prod", &mocks{}), func(info *pulumi.RunInfo) {
		info.Config = cfg
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
}

// Without the CLI to fill in Pulumi.yaml's defaults, the program applies
// the same ones itself.
func TestDefaultsWithoutCLI(t *testing.T) {
	withCLI, err := loadWith(t, stackConfig(t, "prod"), projectRoot(t))
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
		{"bad bucket name", map[string]string{"artifactsBucket": "Galerly_Artifacts"},
			"", []string{"galerly-lambda:artifactsBucket"}},
		{"several at once", map[string]string{"memorySize": "0", "timeout": "1000", "architecture": "sparc"},
			"", []string{"galerly-lambda:memorySize", "galerly-lambda:timeout", "galerly-lambda:architecture"}},
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
