package coldstarts

import (
	"fmt"
	"testing"
)

func f(v float64) *float64 { return &v }

func show(p *float64) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

// Each platform line as Lambda writes it (fields separated by tabs in the
// text format; the JSON records shaped as the Telemetry API's Event schema
// and the JSON log format write them), and lines that only look like them.
func TestParseMessage(t *testing.T) {
	cases := []struct {
		name    string
		msg     string
		ok      bool
		kind    Kind
		init    *float64
		restore *float64
	}{
		{"warm REPORT", "REPORT RequestId: 6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\tMax Memory Used: 96 MB\t\n",
			true, Invocation, nil, nil},
		{"cold REPORT", "REPORT RequestId: 8fc6f963-411b-58b5-8483-a32130c0f45d\tDuration: 201.67 ms\tBilled Duration: 202 ms\tMemory Size: 2048 MB\tMax Memory Used: 81 MB\tInit Duration: 480.25 ms\t",
			true, Invocation, f(480.25), nil},
		{"cold REPORT with X-Ray, spaces for tabs", "REPORT RequestId: 8fc6f963 Duration: 201.67 ms Billed Duration: 202 ms Memory Size: 2048 MB Max Memory Used: 81 MB Init Duration: 480 ms XRAY TraceId: 1-61c86fa4-59b3c6d959653c527fd10966 SegmentId: 107ea78a5750a811 Sampled: true",
			true, Invocation, f(480), nil},
		{"SnapStart restore REPORT", "REPORT RequestId: 2f1c7b2e-0d6b-4b49-9b7a-3d1a3a4c1f00\tDuration: 95.11 ms\tBilled Duration: 630 ms\tMemory Size: 1024 MB\tMax Memory Used: 180 MB\tRestore Duration: 474.16 ms\tBilled Restore Duration: 536 ms\t",
			true, Invocation, nil, f(474.16)},
		{"billed restore before restore", "REPORT RequestId: x\tDuration: 1 ms\tBilled Restore Duration: 536 ms\tRestore Duration: 474.16 ms",
			true, Invocation, nil, f(474.16)},
		{"INIT_REPORT of a SnapStart publish", "INIT_REPORT Init Duration: 2210.45 ms\tPhase: init\tStatus: success",
			true, Init, f(2210.45), nil},
		{"INIT_REPORT that timed out", "INIT_REPORT Init Duration: 9999.79 ms    Phase: init    Status: timeout",
			true, Init, f(9999.79), nil},
		{"INIT_REPORT with an error type", "INIT_REPORT Init Duration: 150.79 ms\tPhase: init\tStatus: error\tError Type: Runtime.UserCodeSyntaxError",
			true, Init, f(150.79), nil},
		{"JSON platform.report, cold", `{"time":"2026-11-28T10:00:01.000Z","type":"platform.report","record":{"requestId":"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa","metrics":{"durationMs":693.92,"billedDurationMs":694,"memorySizeMB":1024,"maxMemoryUsedMB":84,"initDurationMs":397.68},"status":"success"}}`,
			true, Invocation, f(397.68), nil},
		{"JSON platform.report, warm", `{"time":"2026-11-28T10:00:02.000Z","type":"platform.report","record":{"requestId":"a","metrics":{"durationMs":3.1,"billedDurationMs":4,"memorySizeMB":1024,"maxMemoryUsedMB":84},"status":"success"}}`,
			true, Invocation, nil, nil},
		{"JSON platform.report, restored", `{"time":"2026-11-28T10:00:03.000Z","type":"platform.report","record":{"requestId":"b","metrics":{"durationMs":95.1,"billedDurationMs":630,"memorySizeMB":1024,"maxMemoryUsedMB":180,"restoreDurationMs":474.16,"billedRestoreDurationMs":536},"status":"success"}}`,
			true, Invocation, nil, f(474.16)},
		{"JSON platform.initReport", `{"time":"2026-11-28T10:00:00.000Z","type":"platform.initReport","record":{"initializationType":"snap-start","phase":"init","status":"success","metrics":{"durationMs":2210.45}}}`,
			true, Init, f(2210.45), nil},
		{"JSON platform.report with a negative duration", `{"type":"platform.report","record":{"metrics":{"durationMs":1,"initDurationMs":-5}}}`,
			true, Invocation, nil, nil},
		{"JSON platform.start", `{"time":"2026-11-28T10:00:00.500Z","type":"platform.start","record":{"requestId":"a","version":"7"}}`, false, 0, nil, nil},
		{"JSON platform.initStart", `{"time":"2026-11-28T10:00:00.000Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init"}}`, false, 0, nil, nil},
		{"app JSON log naming a report", `{"timestamp":"2026-11-28T10:00:00Z","level":"INFO","message":"platform.report sent","logger":"app"}`, false, 0, nil, nil},
		{"START", "START RequestId: 6d68ca91 Version: 7", false, 0, nil, nil},
		{"END", "END RequestId: 6d68ca91", false, 0, nil, nil},
		{"app line starting with REPORT", "REPORT generated for gallery 42: Init Duration: 5 ms", false, 0, nil, nil},
		{"app line mentioning INIT_REPORT", "[INFO] looking for INIT_REPORT Init Duration: 5 ms", false, 0, nil, nil},
		{"INIT_REPORT without a duration", "INIT_REPORT Phase: init Status: error", false, 0, nil, nil},
		{"broken JSON", `{"type":"platform.report",`, false, 0, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := ParseMessage(c.msg)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if r.Kind != c.kind || show(r.InitMS) != show(c.init) || show(r.RestoreMS) != show(c.restore) {
				t.Errorf("got kind %d init %s restore %s, want kind %d init %s restore %s",
					r.Kind, show(r.InitMS), show(r.RestoreMS), c.kind, show(c.init), show(c.restore))
			}
			if want := c.kind == Invocation && (c.init != nil || c.restore != nil); r.ColdStart() != want {
				t.Errorf("ColdStart() = %v, want %v", r.ColdStart(), want)
			}
		})
	}
}

func TestVersionOf(t *testing.T) {
	cases := []struct {
		stream, version string
		ok              bool
	}{
		{"2026/11/28/[7]0123456789abcdef0123456789abcdef", "7", true},
		{"2026/11/28/[$LATEST]0123456789abcdef0123456789abcdef", "$LATEST", true},
		{"2026/11/28/[123]f", "123", true},
		{"2026/11/28/[]f", "", false},
		{"my-own-stream", "", false},
		{"2026/11/28/7abc", "", false},
	}
	for _, c := range cases {
		v, ok := VersionOf(c.stream)
		if v != c.version || ok != c.ok {
			t.Errorf("VersionOf(%q) = %q, %v; want %q, %v", c.stream, v, ok, c.version, c.ok)
		}
	}
}

func TestFunctionName(t *testing.T) {
	cases := []struct{ in, name, region, group string }{
		{"galerly-api-prod", "galerly-api-prod", "", "/aws/lambda/galerly-api-prod"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:galerly-api-prod", "galerly-api-prod", "eu-west-1", "/aws/lambda/galerly-api-prod"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:galerly-api-prod:live", "galerly-api-prod", "eu-west-1", "/aws/lambda/galerly-api-prod"},
	}
	for _, c := range cases {
		if got := FunctionName(c.in); got != c.name {
			t.Errorf("FunctionName(%q) = %q, want %q", c.in, got, c.name)
		}
		if got := FunctionRegion(c.in); got != c.region {
			t.Errorf("FunctionRegion(%q) = %q, want %q", c.in, got, c.region)
		}
		if got := LogGroup(c.in); got != c.group {
			t.Errorf("LogGroup(%q) = %q, want %q", c.in, got, c.group)
		}
	}
}
