package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// LogLine is one log event to plant in a log group.
type LogLine struct {
	Stream  string
	Time    time.Time
	Message string
}

// PlantLogs creates the log group group and its streams through the
// CloudWatch Logs API c (a Moto's), and writes lines into them. Each
// stream's lines must be in time order, as PutLogEvents requires, and
// within the last 14 days, which it accepts; t fails on any line refused.
func PlantLogs(t testing.TB, c *cloudwatchlogs.Client, group string, lines []LogLine) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatalf("create log group %s: %v", group, err)
	}
	byStream := map[string][]types.InputLogEvent{}
	var order []string
	for _, l := range lines {
		if _, ok := byStream[l.Stream]; !ok {
			order = append(order, l.Stream)
		}
		byStream[l.Stream] = append(byStream[l.Stream], types.InputLogEvent{
			Timestamp: aws.Int64(l.Time.UnixMilli()),
			Message:   aws.String(l.Message),
		})
	}
	for _, s := range order {
		if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s)}); err != nil {
			t.Fatalf("create log stream %s in %s: %v", s, group, err)
		}
		out, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s), LogEvents: byStream[s]})
		if err != nil {
			t.Fatalf("put log events into %s: %v", s, err)
		}
		if r := out.RejectedLogEventsInfo; r != nil {
			t.Fatalf("log events into %s refused: too old up to %d, expired up to %d, too new from %d",
				s, aws.ToInt32(r.TooOldLogEventEndIndex), aws.ToInt32(r.ExpiredLogEventEndIndex), aws.ToInt32(r.TooNewLogEventStartIndex))
		}
	}
}
