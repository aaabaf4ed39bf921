package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/lock"
)

// The layer and the function are each built by a build step: a
// command:local:Command that runs this checkout's lambdapack from the
// project folder and uploads the zip to S3 under its key. This file holds
// what the two steps share: the command line, the environment, the
// resource itself and the reading of lambdapack's report.

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

// builtSize is the unzipped size step reported for the artifact stored
// under key. what names the step in errors.
func builtSize(step *local.Command, what, key string) pulumi.IntOutput {
	return step.Stdout.ApplyT(func(out string) (int, error) {
		return reportedUnzippedBytes(what, out, key)
	}).(pulumi.IntOutput)
}

// buildReport is the part of lambdapack's JSON report (`layer` and
// `function` print the same shape) the program reads.
type buildReport struct {
	Key           string `json:"key"`
	UnzippedBytes int    `json:"unzippedBytes"`
}

// reportedUnzippedBytes reads the unzipped size from a build step's
// stdout, whose last line is lambdapack's JSON report, and checks that the
// builder agrees with the program on the key the zip was stored under.
// step names the build step in errors.
func reportedUnzippedBytes(step, stdout, key string) (int, error) {
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	var rep buildReport
	if err := json.Unmarshal([]byte(last), &rep); err != nil {
		return 0, fmt.Errorf("%s: its output does not end with lambdapack's JSON report (%v): %q", step, err, last)
	}
	if rep.Key != key {
		return 0, fmt.Errorf("%s: lambdapack built key %s, but the program computed %s from the same files: the builder and the program disagree on the key format", step, rep.Key, key)
	}
	return rep.UnzippedBytes, nil
}
