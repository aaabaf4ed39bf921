package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// Bad usage exits 2 before any AWS call, naming what is wrong.
func TestColdstartsUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no function", nil, "--function is required"},
		{"since not a duration", []string{"--function", "f", "--since", "yesterday"}, `invalid value "yesterday" for flag -since: want a duration such as 24h, 90m or 7d`},
		{"since zero", []string{"--function", "f", "--since", "0s"}, "want a positive duration"},
		{"since negative days", []string{"--function", "f", "--since", "-2d"}, "want a positive duration"},
		{"since too many days", []string{"--function", "f", "--since", "99999d"}, "want a duration such as"},
		{"bad timeout", []string{"--function", "f", "--timeout", "0s"}, "--timeout 0s: want a positive duration"},
		{"stray argument", []string{"--function", "f", "extra"}, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := lambdapack(append([]string{"coldstarts"}, c.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and stderr containing %q", r.code, r.stdout, r.stderr, c.want)
			}
		})
	}
	r := lambdapack("coldstarts", "-h")
	if r.code != 0 || !strings.Contains(r.stderr, "usage: lambdapack coldstarts --function NAME [--since 24h] [--json] [--timeout DURATION]") {
		t.Errorf("-h: exit %d, stderr %q", r.code, r.stderr)
	}
	r = lambdapack("help")
	if !regexp.MustCompile(`(?m)^  coldstarts count a function's cold starts per version`).MatchString(r.stderr) {
		t.Errorf("help does not list coldstarts:\n%s", r.stderr)
	}
}

func TestParseSince(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"24h", 24 * time.Hour}, {"90m", 90 * time.Minute}, {"7d", 7 * 24 * time.Hour}, {"1d", 24 * time.Hour}, {"1h30m", 90 * time.Minute},
	}
	for _, c := range cases {
		if got, err := parseSince(c.in); err != nil || got != c.want {
			t.Errorf("parseSince(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// coldstarts against a real CloudWatch Logs API (moto_server): the table
// and the JSON of planted platform lines in both formats, the window, a
// function given by ARN, a log group that does not exist, and an endpoint
// that never answers.
func TestColdstartsAgainstMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	m.Setenv(t)
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	const (
		v3  = "2026/11/27/[3]0f0e0d0c0b0a09080706050403020100"
		v4a = "2026/11/28/[4]00112233445566778899aabbccddeeff"
		v4b = "2026/11/28/[4]ffeeddccbbaa99887766554433221100"
	)
	report := "REPORT RequestId: 9b7d5a7e-3c1f-4b2d-8e6a-0c5f1d2e3a4b\tDuration: 15.20 ms\tBilled Duration: 16 ms\tMemory Size: 1024 MB\tMax Memory Used: 101 MB\t"
	testenv.PlantLogs(t, cloudwatchlogs.NewFromConfig(cfg), "/aws/lambda/galerly-api-prod", []testenv.LogLine{
		{Stream: v3, Time: ago(3 * time.Hour), Message: report + "Init Duration: 1500.00 ms\t"},
		{Stream: v3, Time: ago(2 * time.Hour), Message: report},
		{Stream: v4a, Time: ago(40 * time.Minute), Message: `{"time":"2026-11-28T09:20:00.000Z","type":"platform.report","record":{"requestId":"a","metrics":{"durationMs":90.1,"billedDurationMs":91,"memorySizeMB":1024,"maxMemoryUsedMB":110,"initDurationMs":640.5},"status":"success"}}`},
		{Stream: v4a, Time: ago(30 * time.Minute), Message: `{"time":"2026-11-28T09:30:00.000Z","type":"platform.report","record":{"requestId":"b","metrics":{"durationMs":3.3,"billedDurationMs":4,"memorySizeMB":1024,"maxMemoryUsedMB":110},"status":"success"}}`},
		{Stream: v4b, Time: ago(20 * time.Minute), Message: report + "Init Duration: 700.25 ms\t"},
	})

	t.Run("table", func(t *testing.T) {
		r := lambdapack("coldstarts", "--function", "galerly-api-prod")
		t.Logf("lambdapack coldstarts --function galerly-api-prod: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		for _, want := range []string{
			"/aws/lambda/galerly-api-prod since " + now.Add(-24*time.Hour).UTC().Format("2006-01-02 ") + "",
			"(last 24h): 5 platform lines\n",
			"VERSION  INVOCATIONS  COLD STARTS  INIT MS p50 / p90 / p99 / max",
			"\n3        2            1 (50%)      1500.0 / 1500.0 / 1500.0 / 1500.0  -\n",
			"\n4        3            2 (67%)      640.5 / 700.2 / 700.2 / 700.2      -\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		r := lambdapack("coldstarts", "--function", "galerly-api-prod", "--json")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		var got struct {
			Function string          `json:"function"`
			Since    time.Time       `json:"since"`
			Versions json.RawMessage `json:"versions"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.stdout)
		}
		var versions any
		_ = json.Unmarshal(got.Versions, &versions)
		compact, _ := json.Marshal(versions)
		const want = `[{"coldStarts":1,"initMs":{"max":1500,"p50":1500,"p90":1500,"p99":1500},"invocations":2,"restoreMs":null,"version":"3"},` +
			`{"coldStarts":2,"initMs":{"max":700.25,"p50":640.5,"p90":700.25,"p99":700.25},"invocations":3,"restoreMs":null,"version":"4"}]`
		if got.Function != "galerly-api-prod" || string(compact) != want {
			t.Errorf("function %q, versions:\n%s\nwant:\n%s", got.Function, compact, want)
		}
		if d := now.Add(-24 * time.Hour).Sub(got.Since); d < -time.Minute || d > time.Minute {
			t.Errorf("since %v, want about %v", got.Since, now.Add(-24*time.Hour))
		}
	})

	t.Run("since excludes older lines", func(t *testing.T) {
		r := lambdapack("coldstarts", "--function", "galerly-api-prod", "--since", "1h", "--json")
		if r.code != 0 || strings.Contains(r.stdout, `"version": "3"`) || !strings.Contains(r.stdout, `"version": "4"`) {
			t.Errorf("exit %d, want only version 4 in the last hour:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	// The region comes from a function ARN, whatever the shell says.
	t.Run("function ARN", func(t *testing.T) {
		t.Setenv("AWS_REGION", "eu-west-1")
		t.Setenv("AWS_DEFAULT_REGION", "eu-west-1")
		r := lambdapack("coldstarts", "--function", "arn:aws:lambda:us-east-1:123456789012:function:galerly-api-prod:live", "--json")
		if r.code != 0 || !strings.Contains(r.stdout, `"function": "galerly-api-prod"`) || !strings.Contains(r.stdout, `"coldStarts": 2`) {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("missing log group", func(t *testing.T) {
		r := lambdapack("coldstarts", "--function", "galerly-api-typo")
		want := "lambdapack coldstarts: log group /aws/lambda/galerly-api-typo does not exist in us-east-1: check --function and the region"
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", r.code, r.stdout, r.stderr, want)
		}
	})

	t.Run("endpoint never answers", func(t *testing.T) {
		stop := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}))
		t.Cleanup(hang.Close)
		t.Cleanup(func() { close(stop) })
		t.Setenv("AWS_ENDPOINT_URL", hang.URL)
		start := time.Now()
		r := lambdapack("coldstarts", "--function", "galerly-api-prod", "--timeout", "1s")
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "reading log group /aws/lambda/galerly-api-prod: timed out waiting for the CloudWatch Logs endpoint "+hang.URL) ||
			!strings.Contains(r.stderr, "the --timeout of 1s ran out") {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 naming the log group, the endpoint and the --timeout", r.code, r.stdout, r.stderr)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("took %v with --timeout 1s", took)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		r := lambdapack("coldstarts", "--function", "galerly-api-prod")
		if r.code != 1 || !strings.Contains(r.stderr, "no AWS credentials") || r.stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 naming the missing credentials", r.code, r.stdout, r.stderr)
		}
	})
}
