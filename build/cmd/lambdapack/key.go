package main

import (
	"context"
	"fmt"

	"github.com/galerly/galerly-lambda/build"
)

// runKey prints the layer key of a lock: the same value the Pulumi program
// computes at preview time, with no network.
func runKey(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("key", "--lock FILE --runtime python3.X [--runtime ...] --arch x86_64|arm64 [lock flags] [--no-bytecode]", e.stderr)
	lockPath := fs.String("lock", "", lockUsage)
	noBytecode := fs.Bool("no-bytecode", false, "the key of a layer built with --no-bytecode")
	var tf targetFlags
	tf.register(fs)
	var sel selectFlags
	sel.register(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *lockPath == "" {
		return usagef("--lock is required")
	}
	t, err := tf.target()
	if err != nil {
		return err
	}
	s, err := sel.selection(*lockPath)
	if err != nil {
		return err
	}
	key, err := build.LayerKeyOf(build.LayerOptions{Lock: *lockPath, Target: t, Select: s, NoBytecode: *noBytecode})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, key)
	return nil
}
