package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
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

// Every function's log group gets the two saved queries, named after the
// function and reading only that group; logQueries false (the local
// stack, whose emulator lacks PutQueryDefinition) saves none.
func TestLogQueries(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) map[string]string
		want bool
	}{
		{"prod with extra functions", func(t *testing.T) map[string]string { return withExtraFunctions(stackConfig(t, "prod")) }, true},
		{"SnapStart on", snapStartConfig, true},
		{"off", func(t *testing.T) map[string]string {
			cfg := withExtraFunctions(stackConfig(t, "prod"))
			cfg[project+":logQueries"] = "false"
			return cfg
		}, false},
		{"the local stack", func(t *testing.T) map[string]string {
			cfg := withExtraFunctions(stackConfig(t, localStack))
			return cfg
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			stack := "prod"
			if strings.HasSuffix(tc.name, "local stack") {
				stack = localStack
			}
			out, m := exportedAndMocks(t, run{config: cfg, stack: stack})
			functions := []string{"galerly-api-" + stack, thumbsFunction, healthFunction}
			queries := m.ofType(typeQuery)
			if !tc.want {
				if len(queries) != 0 {
					t.Errorf("%d query definitions with logQueries false, want none", len(queries))
				}
				if got := fmt.Sprint(out["logQueryNames"]); got != "map[]" {
					t.Errorf("logQueryNames = %s, want an empty map", got)
				}
				return
			}
			if len(queries) != 2*len(functions) {
				t.Errorf("%d query definitions, want 2 per function (%d)", len(queries), 2*len(functions))
			}
			wantOut := map[string]any{}
			for _, fn := range functions {
				logGroup := "/aws/lambda/" + fn
				for _, q := range []struct{ resource, name, text string }{
					{fn + "-cold-starts", fn + "/cold-starts-by-version", coldStartQuery},
					{fn + "-restores", fn + "/snapstart-restores-by-version", restoreQuery},
				} {
					qd := m.find(t, typeQuery, q.resource)
					if got := strValue(t, qd, "name"); got != q.name {
						t.Errorf("%s: name = %s, want %s", q.resource, got, q.name)
					}
					if got := strValue(t, qd, "queryString"); got != q.text {
						t.Errorf("%s: queryString =\n%s\nwant\n%s", q.resource, got, q.text)
					}
					if got := strList(t, qd, "logGroupNames"); !slices.Equal(got, []string{logGroup}) {
						t.Errorf("%s: logGroupNames = %v, want only %s", q.resource, got, logGroup)
					}
					if !qd.inputFrom("logGroupNames", typeLogGroup, fn) {
						t.Errorf("%s: the log group name does not come from the function's log group", q.resource)
					}
					if !isURN(qd.Parent, typeFuncComp, fn) {
						t.Errorf("%s: parent %s, want the function component", q.resource, qd.Parent)
					}
				}
				wantOut[fn] = []any{fn + "/cold-starts-by-version", fn + "/snapstart-restores-by-version"}
			}
			if got := out["logQueryNames"]; fmt.Sprint(got) != fmt.Sprint(wantOut) {
				t.Errorf("logQueryNames = %v, want %v", got, wantOut)
			}
		})
	}
}

// The queries' parse patterns read what Lambda writes. The stream names
// and REPORT lines below are real ones, copied from public logs of
// Python and Java functions in Lambda's text format (tab-separated
// fields; a log stream per execution environment, named
// YYYY/MM/DD/[VERSION]ID): SnapStart restores ("Restore Duration" then
// "Billed Restore Duration"), on-demand cold starts ("Init Duration") and
// warm invocations (neither). Logs Insights takes a pattern's named
// groups as fields; Go's regexp reads the same syntax.
func TestLogQueryPatterns(t *testing.T) {
	patterns := map[string]map[string]*regexp.Regexp{} // query -> field -> pattern
	parse := regexp.MustCompile(`(?m)^\| parse (@\w+) /(.*)/$`)
	for name, text := range map[string]string{"cold starts": coldStartQuery, "restores": restoreQuery} {
		patterns[name] = map[string]*regexp.Regexp{}
		for _, m := range parse.FindAllStringSubmatch(text, -1) {
			re, err := regexp.Compile(m[2])
			if err != nil {
				t.Fatalf("%s: parse %s /%s/: %v", name, m[1], m[2], err)
			}
			for _, group := range re.SubexpNames()[1:] {
				patterns[name][group] = re
			}
		}
	}
	if got := slices.Sorted(maps.Keys(patterns["cold starts"])); !slices.Equal(got, []string{"initMs", "version"}) {
		t.Fatalf("cold-start query parses %v, want initMs and version", got)
	}
	if got := slices.Sorted(maps.Keys(patterns["restores"])); !slices.Equal(got, []string{"restoreMs", "version"}) {
		t.Fatalf("restore query parses %v, want restoreMs and version", got)
	}
	field := func(query, name, text string) string {
		re := patterns[query][name]
		m := re.FindStringSubmatch(text)
		if m == nil {
			return ""
		}
		return m[re.SubexpIndex(name)]
	}

	for stream, version := range map[string]string{
		"2023/07/05/[56]374cd7798d2a4e36a494a23d658b9741":      "56",
		"2023/06/02/[72]88ab219a63d343d294d0a9947e8ab36a":      "72",
		"2026/07/20/[$LATEST]41936308e21b4c27a6f859c1d7423415": "$LATEST",
	} {
		for _, q := range []string{"cold starts", "restores"} {
			if got := field(q, "version", stream); got != version {
				t.Errorf("%s query: version of %s = %q, want %q", q, stream, got, version)
			}
		}
	}

	for _, tc := range []struct {
		name, message     string
		initMs, restoreMs string
	}{
		{"SnapStart restore",
			"REPORT RequestId: b771fecc-1b53-4faf-922d-1d74357b1676\tDuration: 306.34 ms\tBilled Duration: 610 ms\tMemory Size: 3009 MB\tMax Memory Used: 155 MB\tRestore Duration: 511.25 ms\tBilled Restore Duration: 303 ms\t",
			"", "511.25"},
		{"another SnapStart restore",
			"REPORT RequestId: 8c360c87-d4b7-4423-b5f3-af02be3c1763\tDuration: 2338.66 ms\tBilled Duration: 2521 ms\tMemory Size: 3009 MB\tMax Memory Used: 173 MB\tRestore Duration: 398.97 ms\tBilled Restore Duration: 182 ms\t",
			"", "398.97"},
		{"on-demand cold start",
			"REPORT RequestId: 426db50d-3478-40e9-99b4-e515012f47ef\tDuration: 1.57 ms\tBilled Duration: 490 ms\tMemory Size: 128 MB\tMax Memory Used: 81 MB\tInit Duration: 487.97 ms",
			"487.97", ""},
		{"on-demand cold start, trailing tab",
			"REPORT RequestId: 72e452af-9de0-4b81-94d4-203b311e345d\tDuration: 8959.28 ms\tBilled Duration: 10163 ms\tMemory Size: 4096 MB\tMax Memory Used: 159 MB\tInit Duration: 1202.75 ms\t",
			"1202.75", ""},
		{"warm invocation",
			"REPORT RequestId: f4e6ba51-646b-44c2-af31-90af6b3480f7\tDuration: 386.26 ms\tBilled Duration: 387 ms\tMemory Size: 128 MB\tMax Memory Used: 81 MB",
			"", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := field("cold starts", "initMs", tc.message); got != tc.initMs {
				t.Errorf("initMs = %q, want %q", got, tc.initMs)
			}
			if got := field("restores", "restoreMs", tc.message); got != tc.restoreMs {
				t.Errorf("restoreMs = %q, want %q (Restore Duration, not Billed Restore Duration)", got, tc.restoreMs)
			}
			// The cold-start count adds one per line holding either
			// field, none for a warm one.
			cold := strings.Contains(tc.message, "Init Duration") || strings.Contains(tc.message, "Restore Duration")
			if cold != (tc.initMs != "" || tc.restoreMs != "") {
				t.Errorf("counted as cold = %v, with init %q and restore %q", cold, tc.initMs, tc.restoreMs)
			}
		})
	}
}
