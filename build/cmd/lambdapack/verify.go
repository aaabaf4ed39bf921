package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/verify"
)

// runVerify checks a deployed function against the layer the stack
// deployed, one line per check, and fails when any check does.
func runVerify(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("verify", "--function NAME [--qualifier live] --expect-layer ARN [--invoke] [--timeout DURATION]", e.stderr)
	function := fs.String("function", "", "the function's name or ARN (the stack output functionName)")
	qualifier := fs.String("qualifier", "live", "the alias or version to check: live is the one taking traffic; '$LATEST' is the unpublished code")
	expect := fs.String("expect-layer", "", "the versioned layer ARN the function should use (the stack output layerArn)")
	invoke := fs.Bool("invoke", false, `also invoke the function with {"test":"imports"} and report its self-test`)
	var timeout timeoutFlag
	timeout.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected argument %s", clip.Quote(fs.Arg(0)))
	case *function == "":
		return usagef("--function is required")
	case *expect == "":
		return usagef("--expect-layer is required (the stack output layerArn)")
	}
	want, err := verify.ParseLayerARN(*expect)
	if err != nil {
		return usagef("--expect-layer: %v", err)
	}

	ctx, cancel, err := timeout.bound(ctx)
	if err != nil {
		return err
	}
	defer cancel()

	// A function can use only layers of its own region, so the layer ARN
	// says where to look, whatever region the environment names.
	cfg, err := awsconfig.Load(ctx, config.WithRegion(want.Region))
	if err != nil {
		return explainTimeout(ctx, err)
	}
	cfg = awsconfig.WithLog(cfg, &syncWriter{w: e.stderr})
	facts, err := verify.Gather(ctx, awsconfig.NewLambda(cfg), verify.Request{
		Function:  *function,
		Qualifier: *qualifier,
		Expected:  want,
		Invoke:    *invoke,
	})
	if err != nil {
		return explainTimeout(ctx, err)
	}
	results := verify.Check(facts)
	for _, r := range results {
		fmt.Fprintln(e.stdout, r)
	}
	if verify.Failed(results) {
		return errReported
	}
	return nil
}
