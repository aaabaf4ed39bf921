package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"golang.org/x/term"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/build/coldstarts"
)

// defaultSince is --since's default: a day of traffic.
const defaultSince = 24 * time.Hour

// runColdstarts counts a function's cold starts per version from its
// platform log lines.
func runColdstarts(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("coldstarts", "--function NAME [--since 24h] [--json] [--timeout DURATION]", e.stderr)
	function := fs.String("function", "", "the function's name or ARN (the stack output functionName); its log group /aws/lambda/NAME is read")
	since := sinceFlag{d: defaultSince}
	fs.Var(&since, "since", "count the lines of the last `DURATION` (e.g. 24h, 90m, 7d)")
	asJSON := fs.Bool("json", false, `print one JSON object: {"function", "since", "versions": [{"version", "invocations", "coldStarts", "initMs", "restoreMs"}]}`)
	var timeout timeoutFlag
	timeout.register(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *function == "" {
		return usagef("--function is required")
	}

	ctx, cancel, err := timeout.bound(ctx)
	if err != nil {
		return err
	}
	defer cancel()

	// A function given by ARN names its region; the log group is there.
	var opts []func(*config.LoadOptions) error
	if region := coldstarts.FunctionRegion(*function); region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := awsconfig.Load(ctx, opts...)
	if err != nil {
		return explainTimeout(ctx, err)
	}
	log := &syncWriter{w: e.stderr}
	cfg = awsconfig.WithLog(cfg, log)
	progress := newScanProgress(e.stderr, coldstarts.LogGroup(*function))
	report, err := coldstarts.Read(ctx, cloudwatchlogs.NewFromConfig(cfg), coldstarts.Request{
		Function: *function,
		Since:    since.d,
		OnPage:   progress.page,
	})
	progress.done()
	if err != nil {
		return explainTimeout(ctx, err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return coldstarts.WriteText(e.stdout, report)
}

// sinceFlag is --since: a Go duration, or a whole number of days ("7d"),
// which Go's durations lack and log windows are usually given in.
type sinceFlag struct{ d time.Duration }

func (s *sinceFlag) String() string { return s.d.String() }

// Set parses one value.
func (s *sinceFlag) Set(v string) error {
	d, err := parseSince(v)
	if err != nil {
		return err
	}
	s.d = d
	return nil
}

func parseSince(v string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 3650 {
			return 0, fmt.Errorf("want a duration such as 24h, 90m or 7d")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("want a duration such as 24h, 90m or 7d")
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("want a positive duration, such as 24h, 90m or 7d")
	}
	return d, nil
}

// scanProgress shows "reading /aws/lambda/NAME: 12,000 events, 37
// platform lines" on a terminal while the pages come in, and nothing
// when stderr is a pipe or a CI log.
type scanProgress struct {
	out   io.Writer // nil: quiet
	group string
	drawn bool
}

func newScanProgress(w io.Writer, group string) *scanProgress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		w = nil
	}
	return &scanProgress{out: w, group: group}
}

func (p *scanProgress) page(events, platform int) {
	if p.out == nil {
		return
	}
	fmt.Fprintf(p.out, "\rreading %s: %d events, %d platform lines\x1b[K", p.group, events, platform)
	p.drawn = true
}

// done clears the line, so the table starts at the left margin.
func (p *scanProgress) done() {
	if p.drawn {
		fmt.Fprint(p.out, "\r\x1b[K")
	}
}
