package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
)

// layerType is the component's type token.
const layerType = "galerly:lambda:Layer"

// maxDescription is Lambda's limit on a layer version's description.
const maxDescription = 256

// Layer is a Lambda layer built from a hashed lock, as one resource: the
// build step that uploads the zip to S3 under the layer key, and the
// LayerVersion published from that object.
//
// The key is computed here, from the lock, when the program runs, with no
// network and no build. Everything that identifies the layer (the build
// step's triggers, the S3 key, the description) follows from it, so a
// preview shows exactly which packages changed, and an unchanged lock
// shows no change and builds nothing.
type Layer struct {
	pulumi.ResourceState

	// Key is the layer key of the lock for the target (build.LayerKey).
	Key string
	// Packages are the "name==version" pins the target installs, sorted.
	Packages []string
	// S3Key is where the build step uploads the zip: layers/NAME/KEY.zip.
	S3Key string

	Build   *local.Command
	Version *lambda.LayerVersion

	// Arn is the versioned ARN, the form a function's layers take.
	Arn pulumi.StringOutput
	// LayerArn is the ARN without the version.
	LayerArn pulumi.StringOutput
	// VersionNumber is the version Lambda gave this build.
	VersionNumber pulumi.StringOutput
	// S3Uri is the built zip, s3://BUCKET/layers/NAME/KEY.zip.
	S3Uri pulumi.StringOutput
	// UnzippedBytes is the layer's unzipped size from the build step's
	// report. It is kept in the stack's state, so a function build can
	// check the layer and function together against Lambda's size limit
	// even when the layer was built by an earlier update.
	UnzippedBytes pulumi.IntOutput
}

// LayerArgs says what a Layer is built from and where it goes.
type LayerArgs struct {
	// LockPath is the lock relative to the project folder, slash-separated;
	// it is passed to the build command as written.
	LockPath string
	Lock     *lock.Lock
	Target   target.Target
	// Bucket is the artifacts bucket's name.
	Bucket pulumi.StringInput
	// Region, when set, is the region the build step uploads in.
	Region string
	// Endpoint, when set, is the AWS endpoint URL the build step uploads
	// to (an emulator's).
	Endpoint string
}

// NewLayer declares the layer named name (the Lambda layer name).
func NewLayer(ctx *pulumi.Context, name string, args *LayerArgs, opts ...pulumi.ResourceOption) (*Layer, error) {
	l := &Layer{
		Key:      lock.Key(args.Lock, args.Target, lock.Options{}),
		Packages: pins(args.Lock, args.Target),
	}
	l.S3Key = "layers/" + name + "/" + l.Key + ".zip"
	if err := ctx.RegisterComponentResource(layerType, name, l, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(l)

	// The triggers name the key and every pin, so a changed lock replaces
	// the build step and the preview lists the pins that differ.
	triggers := pulumi.Array{pulumi.String(l.Key)}
	for _, p := range l.Packages {
		triggers = append(triggers, pulumi.String(p))
	}
	env := buildEnvironment(args.Region, args.Endpoint)
	build, err := local.NewCommand(ctx, name+"-build", &local.CommandArgs{
		Triggers: triggers,
		// Relative paths only: the command, its folder and its
		// environment are the same on every machine, so two engineers'
		// previews agree. The folder is the project folder the provider
		// runs in.
		Dir:         pulumi.String("."),
		Create:      buildCommand(args, l.Key, l.S3Key),
		Environment: env,
	}, parent)
	if err != nil {
		return nil, err
	}
	l.Build = build

	runtimes := make([]string, len(args.Target.Runtimes))
	for i, r := range args.Target.Runtimes {
		runtimes[i] = r.String()
	}
	version, err := lambda.NewLayerVersion(ctx, name, &lambda.LayerVersionArgs{
		LayerName:               pulumi.String(name),
		S3Bucket:                args.Bucket,
		S3Key:                   pulumi.String(l.S3Key),
		Description:             pulumi.String(layerDescription(l.Packages, l.Key)),
		CompatibleRuntimes:      pulumi.ToStringArray(runtimes),
		CompatibleArchitectures: pulumi.StringArray{pulumi.String(string(args.Target.Arch))},
	}, parent, pulumi.DependsOn([]pulumi.Resource{build}))
	if err != nil {
		return nil, err
	}
	l.Version = version

	l.Arn = version.Arn
	l.LayerArn = version.LayerArn
	l.VersionNumber = version.Version
	l.S3Uri = pulumi.Sprintf("s3://%s/%s", args.Bucket, l.S3Key)
	key := l.Key
	l.UnzippedBytes = build.Stdout.ApplyT(func(out string) (int, error) {
		return reportedUnzippedBytes("layer build step", out, key)
	}).(pulumi.IntOutput)

	err = ctx.RegisterResourceOutputs(l, pulumi.Map{
		"key":           pulumi.String(l.Key),
		"packages":      pulumi.ToStringArray(l.Packages),
		"s3Uri":         l.S3Uri,
		"arn":           l.Arn,
		"layerArn":      l.LayerArn,
		"version":       l.VersionNumber,
		"unzippedBytes": l.UnzippedBytes,
	})
	if err != nil {
		return nil, err
	}
	return l, nil
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

// buildCommand is the shell command that builds the layer and uploads it
// to s3://BUCKET/S3KEY, run from the project folder:
//
//	mkdir -p .lambdapack && go run ./build/cmd/lambdapack layer --lock locks/x.txt
//	  --runtime python3.11 --runtime python3.12 --arch x86_64
//	  --out .lambdapack/layer-KEY.zip --upload s3://BUCKET/layers/NAME/KEY.zip
//
// Every word is either fixed or validated config (the lock path, layer name
// and bucket name admit no shell metacharacters), so nothing needs quoting.
func buildCommand(args *LayerArgs, key, s3Key string) pulumi.StringOutput {
	var b strings.Builder
	b.WriteString("mkdir -p .lambdapack && go run ./build/cmd/lambdapack layer")
	b.WriteString(" --lock " + args.LockPath)
	for _, r := range args.Target.Runtimes {
		b.WriteString(" --runtime " + r.String())
	}
	b.WriteString(" --arch " + string(args.Target.Arch))
	b.WriteString(" --out .lambdapack/layer-" + key + ".zip")
	return pulumi.Sprintf("%s --upload s3://%s/%s", b.String(), args.Bucket, s3Key)
}

// pins returns "name==version" for each requirement of l that applies to
// t, sorted by name.
func pins(l *lock.Lock, t target.Target) []string {
	var out []string
	for _, a := range l.For(t) {
		out = append(out, a.Name+"=="+a.Version)
	}
	slices.Sort(out)
	return out
}

// layerDescription names the pinned versions and the start of the key,
// within Lambda's 256 characters. When the pins do not all fit, it keeps
// whole pins and says how many were left out, rather than cutting one in
// half: "numpy==2.1.3 pillow==11.0.0 +7 more (key 0123456789ab)".
func layerDescription(pins []string, key string) string {
	suffix := " (key " + key[:min(12, len(key))] + ")"
	full := strings.Join(pins, " ") + suffix
	if len(full) <= maxDescription {
		return full
	}
	for n := len(pins) - 1; n >= 0; n-- {
		more := fmt.Sprintf("+%d more", len(pins)-n)
		s := strings.Join(append(slices.Clone(pins[:n]), more), " ") + suffix
		if len(s) <= maxDescription {
			return s
		}
	}
	// Unreachable with a 64-hex key: "+N more (key ...)" always fits.
	return truncate(full, maxDescription)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
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
