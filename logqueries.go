package main

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The saved CloudWatch Logs Insights queries over each function's log
// group, so a cold start can be seen where it happens: by version, since
// each version is a different package, layer or setting.
//
// They read the platform's REPORT lines in Lambda's text log format, the
// one the program's functions use (it sets no loggingConfig). The version
// comes from the log stream's name, YYYY/MM/DD/[VERSION]ENVIRONMENT-ID:
// every execution environment writes its own stream, named after the
// version it runs. A REPORT line carries "Init Duration" when its
// invocation started an environment on demand, and "Restore Duration"
// (then "Billed Restore Duration") when SnapStart restored one from a
// snapshot; a SnapStart function's init runs when the version is
// published, in an INIT_REPORT line of its own, not in a REPORT line
// (https://docs.aws.amazon.com/lambda/latest/dg/snapstart-monitoring.html).
//
// Both queries are saved whatever snapStart says. Cold starts matter
// without SnapStart (they are what it would save), and restores of
// versions published with it stay in the logs after it is turned off;
// saving a query costs nothing until it runs. Each query sorts the
// newest version first.

// coldStartQuery gives, per version, the invocations, the cold starts
// (on-demand inits and SnapStart restores), their share of the
// invocations in percent, and the on-demand init duration at p50, p90,
// p99 and max, in ms.
const coldStartQuery = `# Cold starts by version: the share of invocations that started an execution
# environment (an on-demand init or a SnapStart restore) and the init duration
# in ms. The version is the log stream's [N]; text log format.
filter @type = "REPORT"
| parse @logStream /^\d{4}\/\d{2}\/\d{2}\/\[(?<version>[^\]]+)\]/
| parse @message /Init Duration: (?<initMs>[0-9.]+) ms/
| stats count(*) as invocations,
    sum(strcontains(@message, "Init Duration")) + sum(strcontains(@message, "Restore Duration")) as coldStarts,
    100 * (sum(strcontains(@message, "Init Duration")) + sum(strcontains(@message, "Restore Duration"))) / count(*) as coldStartPct,
    pct(initMs, 50) as initP50, pct(initMs, 90) as initP90, pct(initMs, 99) as initP99, max(initMs) as initMax,
    max(@timestamp) as lastSeen
  by version
| sort lastSeen desc`

// restoreQuery gives, per version, the SnapStart restores and the restore
// duration at p50, p90, p99 and max, in ms. "Restore Duration" comes
// before "Billed Restore Duration" on a REPORT line, so the first match
// is the restore itself, as in AWS's own query on the page above.
const restoreQuery = `# SnapStart restores by version: how many execution environments were restored
# from the version's snapshot and the restore duration in ms (the REPORT line's
# "Restore Duration"). The version is the log stream's [N]; text log format.
filter @type = "REPORT" and @message like /Restore Duration/
| parse @logStream /^\d{4}\/\d{2}\/\d{2}\/\[(?<version>[^\]]+)\]/
| parse @message /Restore Duration: (?<restoreMs>[0-9.]+) ms/
| stats count(*) as restores,
    pct(restoreMs, 50) as restoreP50, pct(restoreMs, 90) as restoreP90, pct(restoreMs, 99) as restoreP99, max(restoreMs) as restoreMax,
    max(@timestamp) as lastSeen
  by version
| sort lastSeen desc`

// logQuery is one saved query of a function's logs.
type logQuery struct {
	// suffix names the resource after the function's: NAME-SUFFIX.
	suffix string
	// title is the query's name after "FUNCTION/", which the Logs
	// Insights console shows as a folder per function.
	title string
	text  string
}

// logQueries are the queries every function gets, in order.
func logQueries() []logQuery {
	return []logQuery{
		{suffix: "cold-starts", title: "cold-starts-by-version", text: coldStartQuery},
		{suffix: "restores", title: "snapstart-restores-by-version", text: restoreQuery},
	}
}

// logQueryNames are the saved queries' names for the function named
// function, as `aws logs describe-query-definitions
// --query-definition-name-prefix` finds them.
func logQueryNames(function string) []string {
	var out []string
	for _, q := range logQueries() {
		out = append(out, function+"/"+q.title)
	}
	return out
}

// newLogQueries saves the queries over the function's log group, as
// children of opts' parent. The log group's name comes from the log group
// resource, so each query waits for the group it reads.
func newLogQueries(ctx *pulumi.Context, function string, logs *cloudwatch.LogGroup, opts ...pulumi.ResourceOption) ([]*cloudwatch.QueryDefinition, error) {
	var out []*cloudwatch.QueryDefinition
	names := logQueryNames(function)
	for i, q := range logQueries() {
		qd, err := cloudwatch.NewQueryDefinition(ctx, function+"-"+q.suffix, &cloudwatch.QueryDefinitionArgs{
			Name:          pulumi.String(names[i]),
			QueryString:   pulumi.String(q.text),
			LogGroupNames: pulumi.StringArray{logs.Name},
		}, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, qd)
	}
	return out, nil
}
