package main

import (
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/target"
)

// snapStartMinRuntime is the oldest Python runtime Lambda offers SnapStart
// for (https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html,
// "Supported features and limitations").
var snapStartMinRuntime = target.Runtime{Minor: 12}

// ColdStartConfig is how the functions' cold starts are shortened and
// how they are watched.
type ColdStartConfig struct {
	// SnapStart turns on Lambda SnapStart for every function's published
	// versions: Lambda runs the init phase when a version is published,
	// snapshots the environment, and restores new environments from it.
	SnapStart bool
	// LogQueries saves CloudWatch Logs Insights queries of cold starts
	// and restores over each function's log group.
	LogQueries bool
}

// readColdStartConfig reads snapStart and logQueries. SnapStart is
// checked against the function's runtime and the layer's runtimes
// (runtime is zero when functionRuntime is bad, layerRuntimes nil when
// layerRuntimes is): a refusal Lambda would give halfway through an
// update is given at preview, naming snapStart.
func readColdStartConfig(r *configReader, runtime target.Runtime, layerRuntimes []target.Runtime) ColdStartConfig {
	const key = "snapStart"
	c := ColdStartConfig{
		SnapStart:  r.boolean(key),
		LogQueries: r.boolean("logQueries"),
	}
	if !c.SnapStart || runtime.Minor == 0 {
		return c
	}
	if runtime.Minor < snapStartMinRuntime.Minor {
		r.fail(key, "Lambda offers SnapStart for Python from %s on, and %s is %s; set it to %s or later (one of %s), or turn SnapStart off",
			snapStartMinRuntime, r.full("functionRuntime"), runtime, snapStartMinRuntime, r.full("layerRuntimes"))
	}
	if layerRuntimes != nil && !slices.Contains(layerRuntimes, runtime) {
		names := make([]string, len(layerRuntimes))
		for i, lr := range layerRuntimes {
			names[i] = lr.String()
		}
		r.fail(key, "the layer is built for %s, not for the function's %s: the snapshot would import a layer built for another runtime; add %s to %s",
			strings.Join(names, ", "), runtime, runtime, r.full("layerRuntimes"))
	}
	// Lambda also refuses SnapStart with ephemeral storage over 512 MB, an
	// EFS file system or provisioned concurrency. The program configures
	// none of them (every function keeps Lambda's default 512 MB of /tmp,
	// mounts no file system and has no provisioned concurrency), so there
	// is nothing to check here; a config key that adds one must be checked
	// against SnapStart in this function. TestSnapStartRefusesNothingLambdaRefuses
	// holds the graph to that.
	return c
}
