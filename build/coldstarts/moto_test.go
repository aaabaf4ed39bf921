package coldstarts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// plantedLine is one log event a test writes: its stream, its age at the
// time of planting, and its message.
type plantedLine struct {
	stream string
	age    time.Duration
	msg    string
}

// report is a text-format REPORT line with extra fields after the usual
// ones, separated by tabs as Lambda writes them.
func report(extra string) string {
	return "REPORT RequestId: 6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\tMax Memory Used: 96 MB\t" + extra
}

// plantedFunction is the log group of a function that served several
// versions over two days, in both log formats. Counted over the last 24
// hours it gives plantedWant.
var plantedFunction = []plantedLine{
	// Version 5 served only before the window: it must not appear.
	{"2026/11/26/[5]55555555", 48 * time.Hour, "START RequestId: a Version: 5"},
	{"2026/11/26/[5]55555555", 48 * time.Hour, report("Init Duration: 4000.00 ms")},

	// Version 6, text format, on demand: an environment started before
	// the window (its cold start not counted) that still served in it,
	// and two that started in it.
	{"2026/11/27/[6]6666aaaa", 30 * time.Hour, report("Init Duration: 5000.00 ms")},
	{"2026/11/27/[6]6666aaaa", 20 * time.Hour, "START RequestId: b Version: 6"},
	{"2026/11/27/[6]6666aaaa", 20 * time.Hour, "[INFO]\t2026-11-27T14:00:00.000Z\tb\tthumbnail 256px in 41 ms"},
	{"2026/11/27/[6]6666aaaa", 20 * time.Hour, "END RequestId: b"},
	{"2026/11/27/[6]6666aaaa", 20 * time.Hour, report("")},
	{"2026/11/28/[6]6666bbbb", 5 * time.Hour, report("Init Duration: 812.40 ms")},
	{"2026/11/28/[6]6666bbbb", 4 * time.Hour, report("")},
	{"2026/11/28/[6]6666bbbb", 3 * time.Hour, "REPORT generated for gallery 42: Init Duration: 1 ms"}, // the app's own line
	{"2026/11/28/[6]6666cccc", 2 * time.Hour, report("Init Duration: 955.10 ms\tXRAY TraceId: 1-61c86fa4-59b3c6d959653c527fd10966\tSegmentId: 107ea78a5750a811\tSampled: true\t")},

	// Version 7, text format, SnapStart: the init at publish in a stream
	// that serves nothing, then restored environments.
	{"2026/11/28/[7]7777snap", 90 * time.Minute, "INIT_REPORT Init Duration: 2481.66 ms\tPhase: init\tStatus: success"},
	{"2026/11/28/[7]7777aaaa", 80 * time.Minute, report("Restore Duration: 312.50 ms\tBilled Restore Duration: 402 ms\t")},
	{"2026/11/28/[7]7777aaaa", 79 * time.Minute, report("")},
	{"2026/11/28/[7]7777bbbb", 70 * time.Minute, report("Restore Duration: 498.00 ms\tBilled Restore Duration: 570 ms\t")},
	{"2026/11/28/[7]7777cccc", 60 * time.Minute, report("Restore Duration: 401.25 ms\tBilled Restore Duration: 455 ms\t")},

	// Version 8, JSON format: the full sequence of a cold start, with an
	// initReport for the same init as the report's initDurationMs (counted
	// once: the report's), a warm request, and the app's own JSON lines.
	{"2026/11/28/[8]8888aaaa", 50 * time.Minute, `{"time":"2026-11-28T09:10:00.000Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"python:3.12.v40"}}`},
	{"2026/11/28/[8]8888aaaa", 50 * time.Minute, `{"time":"2026-11-28T09:10:00.700Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"success","metrics":{"durationMs":701.33}}}`},
	{"2026/11/28/[8]8888aaaa", 50 * time.Minute, `{"time":"2026-11-28T09:10:00.710Z","type":"platform.start","record":{"requestId":"c","version":"8"}}`},
	{"2026/11/28/[8]8888aaaa", 50 * time.Minute, `{"timestamp":"2026-11-28T09:10:00.750Z","level":"INFO","message":"platform.report is not mine","logger":"api","requestId":"c"}`},
	{"2026/11/28/[8]8888aaaa", 50 * time.Minute, `{"time":"2026-11-28T09:10:00.800Z","type":"platform.runtimeDone","record":{"requestId":"c","status":"success","metrics":{"durationMs":88.0,"producedBytes":120}}}`},
	{"2026/11/28/[8]8888aaaa", 50 * time.Minute, `{"time":"2026-11-28T09:10:00.801Z","type":"platform.report","record":{"requestId":"c","metrics":{"durationMs":88.02,"billedDurationMs":89,"memorySizeMB":1024,"maxMemoryUsedMB":120,"initDurationMs":701.3},"status":"success"}}`},
	{"2026/11/28/[8]8888aaaa", 40 * time.Minute, `{"time":"2026-11-28T09:20:00.000Z","type":"platform.report","record":{"requestId":"d","metrics":{"durationMs":3.2,"billedDurationMs":4,"memorySizeMB":1024,"maxMemoryUsedMB":121},"status":"success"}}`},

	// Version 9: warm requests only, in a stream whose cold start came
	// before the window.
	{"2026/11/27/[9]9999aaaa", 26 * time.Hour, report("Init Duration: 650.00 ms")},
	{"2026/11/28/[9]9999aaaa", 30 * time.Minute, report("")},
	{"2026/11/28/[9]9999aaaa", 20 * time.Minute, report("")},

	// $LATEST, invoked by hand.
	{"2026/11/28/[$LATEST]aaaabbbb", 10 * time.Minute, report("Init Duration: 1200.00 ms")},

	// A stream Lambda did not write: not attributed to any version.
	{"manual-test", 5 * time.Minute, report("Init Duration: 1.00 ms")},
}

// plantedWant is what the last 24 hours of plantedFunction count to.
const plantedWant = `[` +
	`{"version":"6","invocations":4,"coldStarts":2,"initMs":{"p50":812.4,"p90":955.1,"p99":955.1,"max":955.1},"restoreMs":null},` +
	`{"version":"7","invocations":4,"coldStarts":3,"initMs":{"p50":2481.66,"p90":2481.66,"p99":2481.66,"max":2481.66},"restoreMs":{"p50":401.25,"p90":498,"p99":498,"max":498}},` +
	`{"version":"8","invocations":2,"coldStarts":1,"initMs":{"p50":701.3,"p90":701.3,"p99":701.3,"max":701.3},"restoreMs":null},` +
	`{"version":"9","invocations":2,"coldStarts":0,"initMs":null,"restoreMs":null},` +
	`{"version":"$LATEST","invocations":1,"coldStarts":1,"initMs":{"p50":1200,"p90":1200,"p99":1200,"max":1200},"restoreMs":null}]`

// planted returns lines as log events, each at now minus its age.
func planted(now time.Time, lines []plantedLine) []testenv.LogLine {
	out := make([]testenv.LogLine, len(lines))
	for i, l := range lines {
		out[i] = testenv.LogLine{Stream: l.stream, Time: now.Add(-l.age), Message: l.msg}
	}
	return out
}

// filterRequest is the body of one FilterLogEvents request, as sent.
type filterRequest struct {
	LogGroupName  string `json:"logGroupName"`
	StartTime     int64  `json:"startTime"`
	EndTime       int64  `json:"endTime"`
	FilterPattern string `json:"filterPattern"`
	Limit         int32  `json:"limit"`
	NextToken     string `json:"nextToken"`
}

// Read against a real CloudWatch Logs API (moto_server) with platform lines
// planted in both formats: several versions, lines before the window, a
// version with no cold start, SnapStart restores, and lines that only look
// like platform lines. Pages of two events make it follow nextToken.
func TestReadAgainstMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	rec := testenv.RecordRequests(t, m.Endpoint)
	testenv.SetenvAll(t, testenv.EndpointEnv(rec.Endpoint))
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := cloudwatchlogs.NewFromConfig(cfg)
	now := time.Now()
	testenv.PlantLogs(t, c, "/aws/lambda/galerly-api-prod", planted(now, plantedFunction))

	var sent []filterRequest
	rec.Intercept(func(r *http.Request) int {
		if r.Header.Get("X-Amz-Target") != "Logs_20140328.FilterLogEvents" {
			return 0
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var fr filterRequest
		if err := json.Unmarshal(body, &fr); err != nil {
			t.Errorf("FilterLogEvents body %q: %v", body, err)
		}
		sent = append(sent, fr)
		return 0
	})

	var pages []int
	rep, err := Read(context.Background(), c, Request{
		Function: "galerly-api-prod",
		Since:    24 * time.Hour,
		Now:      now,
		PageSize: 2,
		OnPage:   func(events, platform int) { pages = append(pages, events) },
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(rep.Versions)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != plantedWant {
		t.Errorf("versions:\n%s\nwant:\n%s", got, plantedWant)
	}
	if rep.Function != "galerly-api-prod" || rep.LogGroup != "/aws/lambda/galerly-api-prod" || !rep.Since.Equal(now.Add(-24*time.Hour).UTC().Truncate(time.Millisecond)) {
		t.Errorf("report names %q, group %q, since %v", rep.Function, rep.LogGroup, rep.Since)
	}
	if rep.Unattributed != 1 {
		t.Errorf("unattributed %d, want 1 (the manual-test stream)", rep.Unattributed)
	}

	// What was asked of the service: the group, the window from its
	// start, the platform lines only, in pages followed to the end.
	if len(sent) < 2 || len(pages) != len(sent) {
		t.Fatalf("%d FilterLogEvents requests and %d pages; want several, one page each", len(sent), len(pages))
	}
	for i, fr := range sent {
		if fr.LogGroupName != "/aws/lambda/galerly-api-prod" || fr.StartTime != now.Add(-24*time.Hour).UnixMilli() ||
			fr.EndTime != now.UnixMilli() || fr.FilterPattern != FilterPattern || fr.Limit != 2 {
			t.Errorf("request %d: %+v", i, fr)
		}
		if (i == 0) != (fr.NextToken == "") {
			t.Errorf("request %d: nextToken %q", i, fr.NextToken)
		}
	}

	// A server that ignores startTime returns the lines before the window
	// too; they are still not counted.
	t.Run("server ignores the window", func(t *testing.T) {
		rec.Intercept(func(r *http.Request) int {
			if r.Header.Get("X-Amz-Target") != "Logs_20140328.FilterLogEvents" {
				return 0
			}
			var body map[string]any
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				t.Errorf("FilterLogEvents body: %v", err)
			}
			delete(body, "startTime")
			delete(body, "endTime")
			b, _ := json.Marshal(body)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
			return 0
		})
		t.Cleanup(func() { rec.Intercept(nil) })
		rep, err := Read(context.Background(), c, Request{Function: "galerly-api-prod", Since: 24 * time.Hour, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(rep.Versions); string(got) != plantedWant {
			t.Errorf("versions:\n%s\nwant:\n%s", got, plantedWant)
		}
		if rep.Events != len(plantedFunction) {
			t.Errorf("the server returned %d events, want all %d (this test needs a server that returns lines outside the window)", rep.Events, len(plantedFunction))
		}
	})

	t.Run("missing log group", func(t *testing.T) {
		_, err := Read(context.Background(), c, Request{Function: "galerly-api-nope", Since: time.Hour})
		var nf *LogGroupNotFoundError
		if !errors.As(err, &nf) || nf.Group != "/aws/lambda/galerly-api-nope" || !strings.Contains(err.Error(), "log group /aws/lambda/galerly-api-nope does not exist in us-east-1") {
			t.Errorf("err = %v, want one naming the missing log group", err)
		}
	})

	t.Run("empty window", func(t *testing.T) {
		rep, err := Read(context.Background(), c, Request{Function: "galerly-api-prod", Since: time.Minute, Now: now.Add(-72 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(rep); !strings.HasSuffix(string(got), `"versions":[]}`) {
			t.Errorf("report %s, want no versions", got)
		}
	})
}

// logs:FilterLogEvents is the only permission a reader needs (docs/ci.md):
// with it alone Read works; without it the error names it. moto checks
// actions but not log-group resources (it authorizes logs calls against
// "*"), so the policies here allow "*"; the scoping to the functions' log
// groups that docs/ci.md shows is not exercised. moto refuses in XML, which
// the SDK cannot read as CloudWatch Logs' JSON error: the 403 is still said
// as a refusal.
func TestReadPermissionsAgainstMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	m.Setenv(t)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testenv.PlantLogs(t, cloudwatchlogs.NewFromConfig(cfg), "/aws/lambda/galerly-api-prod", []testenv.LogLine{
		{Stream: "2026/11/28/[3]abcd", Time: time.Now().Add(-time.Hour), Message: report("Init Duration: 640.00 ms")},
	})
	policy := func(action string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"*"}]}`
	}
	readerKey, readerSecret := m.CreateUser(t, "coldstarts-reader", policy("logs:FilterLogEvents"))
	otherKey, otherSecret := m.CreateUser(t, "coldstarts-other", policy("logs:DescribeLogGroups"))
	if err := m.EnforceAuth(); err != nil {
		t.Fatal(err)
	}
	read := func(key, secret string) (Report, error) {
		t.Setenv("AWS_ACCESS_KEY_ID", key)
		t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		cfg, err := awsconfig.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return Read(ctx, cloudwatchlogs.NewFromConfig(cfg), Request{Function: "galerly-api-prod", Since: 24 * time.Hour})
	}
	rep, err := read(readerKey, readerSecret)
	if err != nil || len(rep.Versions) != 1 || rep.Versions[0].ColdStarts != 1 {
		t.Errorf("with logs:FilterLogEvents: %+v, %v; want version 3's cold start", rep.Versions, err)
	}
	_, err = read(otherKey, otherSecret)
	want := "reading log group /aws/lambda/galerly-api-prod: access denied"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "the credentials need logs:FilterLogEvents on arn:aws:logs:us-east-1:ACCOUNT:log-group:/aws/lambda/galerly-api-prod:*") {
		t.Errorf("without logs:FilterLogEvents: err = %v, want %q naming the action", err, want)
	}
}
