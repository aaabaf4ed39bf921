package coldstarts

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Nearest rank: the value at 1-based rank ceil(p/100 * n) of the sorted
// values, never an interpolation.
func TestNearestRank(t *testing.T) {
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	thousand := make([]float64, 1000)
	for i := range thousand {
		thousand[i] = float64(i + 1)
	}
	cases := []struct {
		name   string
		values []float64
		p      int
		want   float64
	}{
		{"one value is every percentile", []float64{42}, 50, 42},
		{"one value, p99", []float64{42}, 99, 42},
		{"two values, p50 is the lower", []float64{10, 20}, 50, 10},
		{"two values, p90 is the upper", []float64{10, 20}, 90, 20},
		{"four values, p50 rank 2", []float64{1, 2, 3, 4}, 50, 2},
		{"five values, p50 rank 3", []float64{1, 2, 3, 4, 5}, 50, 3},
		{"ten values, p90 rank 9 (no float rounding up to 10)", ten, 90, 9},
		{"ten values, p99 rank 10", ten, 99, 10},
		{"ten values, p50 rank 5", ten, 50, 5},
		{"hundred values, p99 rank 99", hundred, 99, 99},
		{"hundred values, p90 rank 90", hundred, 90, 90},
		{"thousand values, p99 rank 990", thousand, 99, 990},
		{"three values, p90 is the slowest", []float64{100, 200, 300}, 90, 300},
		{"three values, p50 rank 2", []float64{100, 200, 300}, 50, 200},
	}
	for _, c := range cases {
		if got := NearestRank(c.values, c.p); got != c.want {
			t.Errorf("%s: NearestRank(p%d) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
}

// The counting rule, on the cases it exists for.
func TestTally(t *testing.T) {
	type line struct{ stream, msg string }
	const (
		v6a = "2026/11/28/[6]aaaa"
		v6b = "2026/11/28/[6]bbbb"
		v7s = "2026/11/28/[7]snapshot"
		v7a = "2026/11/28/[7]cccc"
		v7b = "2026/11/28/[7]dddd"
		v8  = "2026/11/28/[8]eeee"
		v9  = "2026/11/28/[9]ffff"
		v10 = "2026/11/28/[10]gggg"
		lat = "2026/11/28/[$LATEST]hhhh"
	)
	report := func(extra string) string {
		return "REPORT RequestId: r\tDuration: 10.0 ms\tBilled Duration: 10 ms\tMemory Size: 1024 MB\tMax Memory Used: 90 MB\t" + extra
	}
	lines := []line{
		// Version 6, on demand: two environments, one cold start each,
		// then warm requests.
		{v6a, report("Init Duration: 800.0 ms")}, {v6a, report("")}, {v6a, report("")},
		{v6b, report("Init Duration: 900.0 ms")}, {v6b, report("")},
		// Version 7, SnapStart: the publish-time init in a stream of its
		// own serving nothing, then two restored environments.
		{v7s, "INIT_REPORT Init Duration: 2500.0 ms\tPhase: init\tStatus: success"},
		{v7a, report("Restore Duration: 300.0 ms\tBilled Restore Duration: 350 ms")}, {v7a, report("")},
		{v7b, report("Restore Duration: 400.0 ms\tBilled Restore Duration: 450 ms")},
		// Version 8, JSON format, where Lambda logs both an initReport and a
		// report carrying the same init: one sample, not two.
		{v8, `{"type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"success","metrics":{"durationMs":700.4}}}`},
		{v8, `{"type":"platform.report","record":{"requestId":"a","metrics":{"durationMs":5,"initDurationMs":700.0}}}`},
		{v8, `{"type":"platform.report","record":{"requestId":"b","metrics":{"durationMs":5}}}`},
		// Version 9: only warm requests in the window.
		{v9, report("")}, {v9, report("")},
		// Version 10 sorts after 9, $LATEST after both.
		{v10, report("Init Duration: 100.0 ms")},
		{lat, report("")},
	}
	tl := NewTally()
	for _, l := range lines {
		r, ok := ParseMessage(l.msg)
		if !ok {
			t.Fatalf("not a platform line: %q", l.msg)
		}
		v, _ := VersionOf(l.stream)
		tl.Add(v, l.stream, r)
	}
	got, err := json.Marshal(tl.Versions())
	if err != nil {
		t.Fatal(err)
	}
	want := `[` +
		`{"version":"6","invocations":5,"coldStarts":2,"initMs":{"p50":800,"p90":900,"p99":900,"max":900},"restoreMs":null},` +
		`{"version":"7","invocations":3,"coldStarts":2,"initMs":{"p50":2500,"p90":2500,"p99":2500,"max":2500},"restoreMs":{"p50":300,"p90":400,"p99":400,"max":400}},` +
		`{"version":"8","invocations":2,"coldStarts":1,"initMs":{"p50":700,"p90":700,"p99":700,"max":700},"restoreMs":null},` +
		`{"version":"9","invocations":2,"coldStarts":0,"initMs":null,"restoreMs":null},` +
		`{"version":"10","invocations":1,"coldStarts":1,"initMs":{"p50":100,"p90":100,"p99":100,"max":100},"restoreMs":null},` +
		`{"version":"$LATEST","invocations":1,"coldStarts":0,"initMs":null,"restoreMs":null}]`
	if string(got) != want {
		t.Errorf("versions:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteText(t *testing.T) {
	r := Report{
		Function: "galerly-api-prod", LogGroup: "/aws/lambda/galerly-api-prod",
		Since: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), Window: 24 * time.Hour, PlatformLines: 11,
		Versions: []Version{
			{Version: "6", Invocations: 5, ColdStarts: 2, InitMS: &Percentiles{800, 900, 900, 900}},
			{Version: "7", Invocations: 3, ColdStarts: 2, InitMS: &Percentiles{2500, 2500, 2500, 2500}, RestoreMS: &Percentiles{300, 400, 400, 400}},
			{Version: "9", Invocations: 3, ColdStarts: 0},
		},
		Unattributed: 1,
	}
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	want := `/aws/lambda/galerly-api-prod since 2026-11-27 10:00:00 UTC (last 24h): 11 platform lines
VERSION  INVOCATIONS  COLD STARTS  INIT MS p50 / p90 / p99 / max      RESTORE MS p50 / p90 / p99 / max
6        5            2 (40%)      800.0 / 900.0 / 900.0 / 900.0      -
7        3            2 (67%)      2500.0 / 2500.0 / 2500.0 / 2500.0  300.0 / 400.0 / 400.0 / 400.0
9        3            0 (0%)       -                                  -
not counted: 1 platform line in log streams not named YYYY/MM/DD/[VERSION]... (not written by Lambda)
`
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	r.Versions, r.Unattributed, r.PlatformLines, r.Window = nil, 0, 0, 7*24*time.Hour
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	if want := "(last 7d): 0 platform lines\nno REPORT or INIT_REPORT lines"; !strings.Contains(b.String(), want) {
		t.Errorf("text %q lacks %q", b.String(), want)
	}
}

// How fast lines are parsed and counted once fetched: a day of a busy
// function is a few hundred thousand REPORT lines, so this must stay far
// below the time the service takes to send them.
func BenchmarkParseAndTally(b *testing.B) {
	msgs := []string{
		"REPORT RequestId: 6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\tMax Memory Used: 96 MB\t",
		"REPORT RequestId: 6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\tMax Memory Used: 96 MB\tInit Duration: 812.40 ms\t",
		`{"time":"2026-11-28T09:10:00.801Z","type":"platform.report","record":{"requestId":"c","metrics":{"durationMs":88.02,"billedDurationMs":89,"memorySizeMB":1024,"maxMemoryUsedMB":120,"initDurationMs":701.3},"status":"success"}}`,
		"START RequestId: 6d68ca91-49c9-448d-89b8-7ca3e6dc66aa Version: 7",
	}
	streams := []string{"2026/11/28/[7]aaaa", "2026/11/28/[7]bbbb", "2026/11/28/[8]cccc"}
	b.ReportAllocs()
	tl := NewTally()
	for i := 0; b.Loop(); i++ {
		if r, ok := ParseMessage(msgs[i%len(msgs)]); ok {
			s := streams[i%len(streams)]
			v, _ := VersionOf(s)
			tl.Add(v, s, r)
		}
	}
	_ = tl.Versions()
}
