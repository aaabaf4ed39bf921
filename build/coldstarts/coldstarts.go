// Package coldstarts reads a Lambda function's platform log lines from
// CloudWatch Logs and counts its cold starts per version: invocations,
// cold starts, and the init and SnapStart restore durations at p50, p90,
// p99 and max.
//
// It reads the REPORT and INIT_REPORT lines of the text log format and the
// platform.report and platform.initReport records of the JSON format, in
// the function's log group /aws/lambda/NAME, with one FilterLogEvents scan
// that starts at the window's start and asks the service for those lines
// only. The version is the one in the log stream's name
// (YYYY/MM/DD/[VERSION]...). Tally states the counting rule.
package coldstarts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/galerly/galerly-lambda/build/awsconfig"
)

// FilterPattern asks CloudWatch Logs for the platform lines only, so the
// scan transfers them and not the function's own logging: REPORT and
// INIT_REPORT in the text format, platform.report and platform.initReport
// in the JSON format. The service matches terms as case-sensitive
// substrings; every event that comes back is parsed again strictly
// (ParseMessage), so a line of the function's own that matches a term is
// still not counted, and a server that ignores the pattern (moto accepts
// only single terms and phrases, and returns every event for an OR
// pattern) gives the same figures.
const FilterPattern = `?REPORT ?INIT_REPORT ?"platform.report" ?"platform.initReport"`

// Request says whose cold starts to count, and since when.
type Request struct {
	// Function is the function's name or ARN (a qualifier in the ARN is
	// ignored: every version is counted).
	Function string
	// Since is how far back from Now to count.
	Since time.Duration
	// Now is the end of the window; zero is the time of the call.
	Now time.Time
	// PageSize is the most events one FilterLogEvents page returns; zero
	// is the service's default (10,000).
	PageSize int32
	// OnPage, when set, is called after each page with the events read
	// and the platform lines among them so far (for progress).
	OnPage func(events, platform int)
}

// Report is the answer: the function's versions, in order, with their
// figures. The JSON form is {"function", "since", "versions": [...]}.
type Report struct {
	Function string    `json:"function"`
	Since    time.Time `json:"since"` // the start of the window, UTC
	Versions []Version `json:"versions"`

	// LogGroup is the group read.
	LogGroup string `json:"-"`
	// Window is the Request's Since.
	Window time.Duration `json:"-"`
	// Events is how many events the service returned, PlatformLines how
	// many of them were platform lines.
	Events, PlatformLines int `json:"-"`
	// Unattributed counts platform lines in streams whose name carries no
	// version (not written by Lambda); they are not counted.
	Unattributed int `json:"-"`
}

// FunctionName returns the bare name of a function given by name or by
// ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]).
func FunctionName(function string) string {
	if parts := strings.Split(function, ":"); len(parts) >= 7 && parts[0] == "arn" && parts[5] == "function" {
		return parts[6]
	}
	return function
}

// FunctionRegion returns the region of a function given by ARN, or "".
func FunctionRegion(function string) string {
	if parts := strings.Split(function, ":"); len(parts) >= 7 && parts[0] == "arn" && parts[5] == "function" {
		return parts[3]
	}
	return ""
}

// LogGroup is the log group Lambda writes a function's logs to.
func LogGroup(function string) string { return "/aws/lambda/" + FunctionName(function) }

// Read scans the function's log group from Now-Since to Now and counts
// its platform lines by version.
func Read(ctx context.Context, c *cloudwatchlogs.Client, req Request) (Report, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	start := now.Add(-req.Since)
	group := LogGroup(req.Function)
	rep := Report{
		Function: FunctionName(req.Function),
		Since:    start.UTC().Truncate(time.Millisecond),
		LogGroup: group,
		Window:   req.Since,
	}
	startMS, endMS := max(0, start.UnixMilli()), now.UnixMilli()
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(group),
		StartTime:     aws.Int64(startMS),
		EndTime:       aws.Int64(endMS),
		FilterPattern: aws.String(FilterPattern),
	}
	if req.PageSize > 0 {
		in.Limit = aws.Int32(req.PageSize)
	}
	tally := NewTally()
	pages := cloudwatchlogs.NewFilterLogEventsPaginator(c, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return Report{}, explain(c, group, err)
		}
		for _, ev := range page.Events {
			rep.Events++
			// The window is checked here too: what is counted must not
			// depend on the server honouring startTime.
			if ts := aws.ToInt64(ev.Timestamp); ts < startMS || ts > endMS {
				continue
			}
			r, ok := ParseMessage(aws.ToString(ev.Message))
			if !ok {
				continue
			}
			rep.PlatformLines++
			stream := aws.ToString(ev.LogStreamName)
			version, ok := VersionOf(stream)
			if !ok {
				rep.Unattributed++
				continue
			}
			tally.Add(version, stream, r)
		}
		if req.OnPage != nil {
			req.OnPage(rep.Events, rep.PlatformLines)
		}
	}
	rep.Versions = tally.Versions()
	if rep.Versions == nil {
		rep.Versions = []Version{} // [] in JSON, not null
	}
	return rep, nil
}

// LogGroupNotFoundError is a function's log group that does not exist.
type LogGroupNotFoundError struct {
	Group, Region string
}

// Error names the group and what to check.
func (e *LogGroupNotFoundError) Error() string {
	return fmt.Sprintf("log group %s does not exist in %s: check --function and the region (AWS_REGION, or the function's ARN); "+
		"Lambda creates the group at the function's first invocation unless the stack created it", e.Group, e.Region)
}

// explain wraps an error of the FilterLogEvents scan with what a person
// would check.
func explain(c *cloudwatchlogs.Client, group string, err error) error {
	o := c.Options()
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return &LogGroupNotFoundError{Group: group, Region: o.Region}
	}
	endpoint := "AWS CloudWatch Logs in " + o.Region
	if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
		endpoint = *o.BaseEndpoint
	}
	return awsconfig.Explain(err, awsconfig.Call{
		Op:       "reading log group " + group,
		Service:  "CloudWatch Logs",
		Endpoint: endpoint,
		EnvVar:   "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
		Denied:   fmt.Sprintf("the credentials need logs:FilterLogEvents on arn:aws:logs:%s:ACCOUNT:log-group:%s:*", o.Region, group),
	})
}
