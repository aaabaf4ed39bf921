package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/sbom"
	"github.com/galerly/galerly-lambda/build/upload"
)

// runCopy copies an artifact that `layer --upload` or `function --upload`
// stored (its zip, and the SBOM and report beside it) to another bucket,
// usually in another region, inside S3: nothing is built, downloaded or
// sent but the report. It is how one build reaches every region a layer is
// published in. It prints the artifact's report, as the build printed it,
// with "s3" naming the copy ("copiedFrom" when this run wrote it, "reused"
// when it was already there) and "sbom" the SBOM beside it.
func runCopy(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("copy", "--build-key KEY --from s3://BUCKET/KEY [--from-region REGION] --to s3://BUCKET/KEY [--timeout DURATION]", e.stderr)
	buildKey := fs.String("build-key", "", "the layer or code key the artifact was built from (`lambdapack key`, the report's \"key\"); "+
		"the source must be that artifact, its report intact and its bytes shown by S3")
	var from, to uploadFlag
	fs.Var(&from, "from", "the stored artifact, `s3://BUCKET/KEY` (as --upload stored it)")
	fs.Var(&to, "to", "where the copy goes, `s3://BUCKET/KEY`, with the SBOM (KEY.cdx.json) and report beside it: each reused if S3 shows the same bytes there, refused if it holds any other. "+
		"Its region, credentials and endpoint: the AWS SDK's defaults (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_S3, ...)")
	fromRegion := fs.String("from-region", "", "the source bucket's region (default: the destination's, from AWS_REGION)")
	var timeout timeoutFlag
	timeout.register(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	switch {
	case *buildKey == "":
		return usagef("--build-key is required (the key the artifact was built from)")
	case !buildKeyPattern.MatchString(*buildKey):
		return usagef("--build-key %s: want 64 lowercase hex digits, as `lambdapack key` prints", clip.Quote(*buildKey))
	case !from.set:
		return usagef("--from is required")
	case !to.set:
		return usagef("--to is required")
	case from.loc == to.loc:
		return usagef("--from and --to are the same object, %s", from.loc)
	}

	ctx, cancel, err := timeout.bound(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	log := &syncWriter{w: e.stderr}
	dstCfg, err := awsconfig.Load(ctx)
	if err != nil {
		return explainTimeout(ctx, fmt.Errorf("--to %s: %w", to.loc, err))
	}
	dstCfg = awsconfig.WithLog(dstCfg, log)
	srcCfg := dstCfg
	if *fromRegion != "" && *fromRegion != dstCfg.Region {
		// The source bucket answers only in its own region.
		if srcCfg, err = awsconfig.Load(ctx, config.WithRegion(*fromRegion)); err != nil {
			return explainTimeout(ctx, fmt.Errorf("--from %s: %w", from.loc, err))
		}
		srcCfg = awsconfig.WithLog(srcCfg, log)
	}
	obj, err := upload.Copy(ctx, awsconfig.NewS3(srcCfg), awsconfig.NewS3(dstCfg), from.loc, to.loc, *buildKey, relocatedReport, log)
	if err != nil {
		return explainTimeout(ctx, err)
	}
	stored, _, err := upload.Find(ctx, awsconfig.NewS3(dstCfg), to.loc, *buildKey)
	if err != nil {
		return explainTimeout(ctx, err)
	}
	if stored == nil {
		// Copy stores the report first and ties the zip to it; only a
		// different report already beside the destination (noted above)
		// leaves it untied.
		return fmt.Errorf("%s holds the artifact's bytes, but not tied to its report (see the note above): delete the report beside it deliberately and copy again", to.loc)
	}
	res, err := storedResult(stored, *buildKey, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", to.loc, err)
	}
	if obj.Reused {
		fmt.Fprintf(e.stderr, "%s already holds the artifact built from key %s (sha256 %s): nothing copied\n", to.loc, *buildKey, res.SHA256)
	} else {
		fmt.Fprintf(e.stderr, "copied %s to %s inside S3 (sha256 %s, %d bytes)\n", from.loc, to.loc, res.SHA256, res.ZipBytes)
	}
	return printReport(e, report{Result: res, S3: obj}, to.loc.String())
}

// relocatedReport is the report stored beside a copy whose SBOM is sb:
// the source's, naming the copy's SBOM instead of the source's, encoded as
// a build uploading there would have stored it, so a build at the
// destination finds the artifact and skips, as it does at the source.
func relocatedReport(report []byte, sb *upload.CopiedSBOM) ([]byte, error) {
	if sb == nil {
		return report, nil
	}
	var res build.Result
	if err := json.Unmarshal(report, &res); err != nil {
		return nil, fmt.Errorf("the source's report does not decode: %w", err)
	}
	// What --upload stores beside a zip is CycloneDX 1.6 (sbomStoredAt).
	res.SBOM = &build.SBOMReport{SpecVersion: sbom.Spec16, SHA256: sb.SHA256, S3: sb.Location.String()}
	data, err := json.Marshal(storedReport(&res))
	if err != nil {
		return nil, fmt.Errorf("encode the copy's report: %w", err)
	}
	return append(data, '\n'), nil
}

// buildKeyPattern is a layer or code key: 64 lowercase hex digits.
var buildKeyPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
