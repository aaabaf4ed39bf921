package main

import (
	"context"
	"fmt"

	"github.com/galerly/galerly-lambda/build/wheel"
)

// runCheck prints, for each wheel filename, whether it fits the target and
// if not why, and fails when any does not.
func runCheck(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("check", "--runtime python3.X [--runtime ...] --arch x86_64|arm64 WHEEL_FILENAME...", e.stderr)
	var tf targetFlags
	tf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	t, err := tf.target()
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("no wheel filename given")
	}
	failed := false
	for _, name := range fs.Args() {
		fn, err := wheel.ParseFilename(name)
		if err != nil {
			failed = true
			fmt.Fprintf(e.stdout, "%s\tno\t%v\n", name, err)
			continue
		}
		if ok, reason := fn.FitTarget(t); ok {
			fmt.Fprintf(e.stdout, "%s\tok\n", name)
		} else {
			failed = true
			fmt.Fprintf(e.stdout, "%s\tno\t%s\n", name, reason)
		}
	}
	if failed {
		return errReported
	}
	return nil
}
