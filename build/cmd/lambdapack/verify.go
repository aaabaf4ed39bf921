package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/build/upload"
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
	sbomURI := fs.String("sbom", "", "the layer's SBOM, `s3://BUCKET/KEY.cdx.json` (the stack output layerSbomS3Uri), to check it describes the version; "+
		"default: beside the S3 object Lambda says the version came from, or where its LicenseInfo points")
	var timeout timeoutFlag
	timeout.register(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	switch {
	case *function == "":
		return usagef("--function is required")
	case *expect == "":
		return usagef("--expect-layer is required (the stack output layerArn)")
	}
	want, err := verify.ParseLayerARN(*expect)
	if err != nil {
		return usagef("--expect-layer: %v", err)
	}
	if *sbomURI != "" {
		if _, err := upload.ParseURI(*sbomURI); err != nil {
			return usagef("--sbom: %v", err)
		}
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
	results = append(results, verify.CheckLicenses(facts), verify.CheckSBOM(facts, layerSBOM(ctx, cfg, *sbomURI, facts)))
	for _, r := range results {
		fmt.Fprintln(e.stdout, r)
	}
	if verify.Failed(results) {
		return errReported
	}
	return nil
}

// layerSBOM reads the expected layer version's SBOM, where
// verify.SBOMLocation says it is; nil when nothing says.
func layerSBOM(ctx context.Context, cfg aws.Config, given string, facts verify.Facts) *verify.SBOMFacts {
	uri, from := verify.SBOMLocation(given, facts.ExpectedVersion)
	if uri == "" {
		return nil
	}
	return verify.GatherSBOM(ctx, awsconfig.NewS3(cfg), uri, from)
}
