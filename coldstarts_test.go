package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const snapStartKey = project + ":snapStart"

// snapStartConfig is the prod stack with SnapStart on and a runtime that
// has it (python3.12, one of prod's layer runtimes), plus two extra
// functions.
func snapStartConfig(t *testing.T) map[string]string {
	t.Helper()
	cfg := withExtraFunctions(stackConfig(t, "prod"))
	cfg[project+":functionRuntime"] = "python3.12"
	cfg[snapStartKey] = "true"
	return cfg
}

// snapStartInput returns a function's snapStart.applyOn, "" when unset.
func snapStartInput(t *testing.T, fn registered) string {
	t.Helper()
	v, ok := fn.Inputs["snapStart"]
	if !ok || v.IsNull() {
		return ""
	}
	if !v.IsObject() {
		t.Fatalf("%s: snapStart = %v, want an object", fn.Name, v)
	}
	return v.ObjectValue()["applyOn"].StringValue()
}

// With snapStart on, every function (extra ones too) takes snapshots of
// its published versions; off, none has the input at all. Either way
// every change is published (publish true, nothing ignored), and the
// smoke test and the live alias take the version the function publishes,
// so turning it on or off is a new, tested version: the provider counts
// a snap_start change as a configuration change that publishes
// (terraform-provider-aws internal/service/lambda/function.go,
// needsFunctionConfigUpdate).
func TestSnapStart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     func(t *testing.T) map[string]string
		runtime string
		applyOn string // "" for no snapStart input
	}{
		{"off (prod)", func(t *testing.T) map[string]string { return withExtraFunctions(stackConfig(t, "prod")) }, "python3.11", ""},
		{"off on python3.12", func(t *testing.T) map[string]string {
			cfg := snapStartConfig(t)
			cfg[snapStartKey] = "false"
			return cfg
		}, "python3.12", ""},
		{"on", snapStartConfig, "python3.12", "PublishedVersions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustRun(t, run{config: tc.cfg(t)})
			for _, name := range []string{apiName, thumbsFunction, healthFunction} {
				fn := m.find(t, typeFunction, name)
				if got := snapStartInput(t, fn); got != tc.applyOn {
					t.Errorf("%s: snapStart.applyOn = %q, want %q", name, got, tc.applyOn)
				}
				if got := strValue(t, fn, "runtime"); got != tc.runtime {
					t.Errorf("%s: runtime = %s, want %s", name, got, tc.runtime)
				}
				if v, set := boolInput(t, fn, "publish"); !set || !v {
					t.Errorf("%s: publish = %v, want true: SnapStart snapshots published versions only", name, v)
				}
				if len(fn.IgnoreChanges) > 0 {
					t.Errorf("%s ignores changes to %v: a snapStart change must publish a version", name, fn.IgnoreChanges)
				}
				inv := m.find(t, typeInvoke, name+"-smoke-test")
				if !inv.inputFrom("qualifier", typeFunction, name) || strValue(t, inv, "qualifier") != mockVersion {
					t.Errorf("%s: the smoke test does not invoke the version the function published", name)
				}
				alias := m.find(t, typeAlias, name+"-live")
				if !alias.inputFrom("functionVersion", typeInvoke, name+"-smoke-test") {
					t.Errorf("%s: the live alias does not take the smoke-tested version", name)
				}
			}
		})
	}
}

// Lambda refuses SnapStart with more than 512 MB of ephemeral storage,
// an EFS file system or provisioned concurrency. The program sets none of
// them, which is why the config reader checks none; this holds the graph
// to that, so a change that adds one meets this test.
func TestSnapStartRefusesNothingLambdaRefuses(t *testing.T) {
	m := mustRun(t, run{config: snapStartConfig(t)})
	for _, fn := range m.ofType(typeFunction) {
		for _, key := range []resource.PropertyKey{"ephemeralStorage", "fileSystemConfig"} {
			if v, ok := fn.Inputs[key]; ok && !v.IsNull() {
				t.Errorf("%s sets %s = %v: check it against snapStart in readColdStartConfig", fn.Name, key, v)
			}
		}
	}
	for _, r := range m.resources {
		if strings.Contains(strings.ToLower(r.Type), "provisionedconcurrency") {
			t.Errorf("%s::%s: provisioned concurrency cannot be used with SnapStart; check it in readColdStartConfig", r.Type, r.Name)
		}
	}
}

// SnapStart's refusals are given by `pulumi preview`, before anything is
// declared, naming snapStart (TestBadConfig has every refusal's text). A
// runtime that is no runtime at all is functionRuntime's fault alone.
func TestSnapStartRefusedAtPreview(t *testing.T) {
	for _, tc := range []struct {
		runtime    string
		blame, not string
	}{
		{"python3.11", "config galerly-lambda:snapStart: Lambda offers SnapStart for Python from python3.12 on", ""},
		{"nodejs20.x", "config galerly-lambda:functionRuntime:", "galerly-lambda:snapStart"},
	} {
		cfg := stackConfig(t, "prod")
		cfg[snapStartKey] = "true"
		cfg[project+":functionRuntime"] = tc.runtime
		m, err := runProgram(t, run{config: cfg, preview: true})
		switch {
		case err == nil:
			t.Errorf("%s: the preview accepted snapStart", tc.runtime)
		case !strings.Contains(err.Error(), tc.blame) || (tc.not != "" && strings.Contains(err.Error(), tc.not)):
			t.Errorf("%s: error does not name %q (or names %q):\n%v", tc.runtime, tc.blame, tc.not, err)
		case len(m.names()) > 0:
			t.Errorf("%s: declared %v before failing", tc.runtime, m.names())
		}
	}
}
