package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/license"
	"github.com/galerly/galerly-lambda/build/lock"
)

// The layer and the function are each built by a build step: a
// command:local:Command that runs this checkout's lambdapack from the
// project folder and uploads the zip to S3 under its key. This file holds
// what the steps share (the layer's copies to other regions too): the
// command line, the environment, the resource itself and the reading of
// lambdapack's report.

// buildCommand is the shell command line of one build step, written word
// by word. Every word is either fixed or validated config (paths, names
// and bucket names admit no shell metacharacters), so nothing needs
// quoting unless a caller quotes it itself.
type buildCommand struct {
	b strings.Builder
}

// newBuildCommand starts the command line of `lambdapack SUBCOMMAND`, run
// with `go run` from the project folder, into the .lambdapack folder it
// writes its zip to.
func newBuildCommand(subcommand string) *buildCommand {
	c := &buildCommand{}
	c.b.WriteString("mkdir -p .lambdapack && go run ./build/cmd/lambdapack " + subcommand)
	return c
}

// flag appends " --NAME VALUE".
func (c *buildCommand) flag(name, value string) {
	c.b.WriteString(" --" + name + " " + value)
}

// options appends the flags of the build options that are part of the key,
// so the builder builds (and reports) the key the program computed.
func (c *buildCommand) options(o lock.Options) {
	if o.NoBytecode {
		c.b.WriteString(" --no-bytecode")
	}
}

// lockFlags appends --lock and the extras and dependency groups of a
// pylock.toml lock, so the builder reads the lock the program read.
func (c *buildCommand) lockFlags(path string, sel lock.Selection) {
	c.flag("lock", path)
	for _, e := range sel.Extras {
		c.flag("extra", e)
	}
	for _, g := range sel.Groups {
		c.flag("group", g)
	}
}

// upload ends the command line with the zip it writes (out, relative to
// the project folder) and its upload to s3://BUCKET/S3KEY.
func (c *buildCommand) upload(out string, bucket pulumi.StringInput, s3Key string) pulumi.StringOutput {
	c.flag("out", out)
	return pulumi.Sprintf("%s --upload s3://%s/%s", c.b.String(), bucket, s3Key)
}

// copy ends the command line with the stored artifact to copy,
// s3://FROM/S3KEY in fromRegion, and where the copy goes, s3://TO/S3KEY:
// the same key in another region's bucket.
func (c *buildCommand) copy(from pulumi.StringInput, fromRegion string, to pulumi.StringInput, s3Key string) pulumi.StringOutput {
	return pulumi.Sprintf("%s --from s3://%s/%s --from-region %s --to s3://%s/%s", c.b.String(), from, s3Key, fromRegion, to, s3Key)
}

// buildEnvironment is what a build step's lambdapack needs beyond the
// deployer's own environment (its AWS credentials): where to upload.
func buildEnvironment(region, endpoint string) pulumi.StringMap {
	env := pulumi.StringMap{}
	if region != "" {
		env["AWS_REGION"] = pulumi.String(region)
	}
	if endpoint != "" {
		env["AWS_ENDPOINT_URL"] = pulumi.String(endpoint)
	}
	return env
}

// newBuildStep declares the build step name. It runs create only when
// triggers change, from the project folder (".", the folder the provider
// runs in): relative paths only, so the command, its folder and its
// environment are the same on every machine and two engineers' previews
// agree.
func newBuildStep(ctx *pulumi.Context, name string, triggers pulumi.Array, create pulumi.StringOutput, env pulumi.StringMap, opts ...pulumi.ResourceOption) (*local.Command, error) {
	return local.NewCommand(ctx, name, &local.CommandArgs{
		Triggers:    triggers,
		Dir:         pulumi.String("."),
		Create:      create,
		Environment: env,
	}, opts...)
}

// buildReport is the part of lambdapack's JSON report (`layer` and
// `function` print the same shape) the program reads.
type buildReport struct {
	Key           string `json:"key"`
	UnzippedBytes int    `json:"unzippedBytes"`
	// Licenses is the SPDX AND of the packages' declared licenses;
	// LicenseConcerns the packages that carry more than they declare.
	Licenses        string            `json:"licenses"`
	LicenseConcerns []license.Concern `json:"licenseConcerns"`
	// SBOM is where --upload stored the artifact's SBOM, beside its zip.
	SBOM *reportedSBOM `json:"sbom"`
}

// reportedSBOM is the report's sbom: the stored SBOM's URI and sha256.
type reportedSBOM struct {
	S3     string `json:"s3"`
	SHA256 string `json:"sha256"`
}

// buildReportOutput is a build step's report, once it has run.
type buildReportOutput struct{ *pulumi.OutputState }

// ElementType is the report's Go type.
func (buildReportOutput) ElementType() reflect.Type { return reflect.TypeFor[*buildReport]() }

func init() { pulumi.RegisterOutputType(buildReportOutput{}) }

// stepReport is the report step printed for the artifact stored under
// key, read from its stdout. what names the step in errors. It is kept in
// the stack's state with the stdout, so a step that does not run again
// still has it: the layer's size, licenses and SBOM stay known to a
// preview and to later updates.
func stepReport(step *local.Command, what, key string) buildReportOutput {
	return step.Stdout.ApplyT(func(out string) (*buildReport, error) {
		return readBuildReport(what, out, key)
	}).(buildReportOutput)
}

// unzippedBytes is the report's unzipped size.
func (o buildReportOutput) unzippedBytes() pulumi.IntOutput {
	return o.ApplyT(func(r *buildReport) int { return r.UnzippedBytes }).(pulumi.IntOutput)
}

// licenses is the report's license summary.
func (o buildReportOutput) licenses() pulumi.StringOutput {
	return o.ApplyT(func(r *buildReport) string { return r.Licenses }).(pulumi.StringOutput)
}

// sbomS3Uri is where the build stored the SBOM, beside the zip.
func (o buildReportOutput) sbomS3Uri() pulumi.StringOutput {
	return o.ApplyT(func(r *buildReport) string { return r.SBOM.S3 }).(pulumi.StringOutput)
}

// sbomSHA256 is the stored SBOM's sha256.
func (o buildReportOutput) sbomSHA256() pulumi.StringOutput {
	return o.ApplyT(func(r *buildReport) string { return r.SBOM.SHA256 }).(pulumi.StringOutput)
}

// readBuildReport reads the report from a build step's stdout, whose last
// line is lambdapack's JSON report, and checks that the builder agrees
// with the program on the key the zip was stored under and that it stored
// the SBOM beside the zip (every build step uploads). step names the
// build step in errors.
func readBuildReport(step, stdout, key string) (*buildReport, error) {
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	var rep buildReport
	if err := json.Unmarshal([]byte(last), &rep); err != nil {
		return nil, fmt.Errorf("%s: its output does not end with lambdapack's JSON report (%v): %q", step, err, last)
	}
	if rep.Key != key {
		return nil, fmt.Errorf("%s: lambdapack built key %s, but the program computed %s from the same files: the builder and the program disagree on the key format", step, rep.Key, key)
	}
	if rep.SBOM == nil || rep.SBOM.S3 == "" || rep.SBOM.SHA256 == "" {
		return nil, fmt.Errorf("%s: lambdapack's report names no SBOM stored beside the upload (sbom.s3 and sbom.sha256): "+
			"the step must run this checkout's lambdapack, whose --upload stores KEY.cdx.json beside KEY.zip", step)
	}
	return &rep, nil
}
