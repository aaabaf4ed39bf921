package main

import (
	"fmt"
	"slices"
	"strconv"
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

// layerUseAction is the one action a layer version permission grants:
// reading the version, which is what attaching it to a function takes.
const layerUseAction = "lambda:GetLayerVersion"

// Layer is a Lambda layer built from a hashed lock, as one resource: the
// build step that uploads the zip to S3 under the layer key, the
// LayerVersion published from that object, and the permissions that share
// that version with other accounts.
//
// The key is computed here, from the lock, when the program runs, with no
// network and no build. Everything that identifies the layer (the build
// step's triggers, the S3 key, the description) follows from it, so a
// preview shows exactly which packages changed, and an unchanged lock
// shows no change and builds nothing.
type Layer struct {
	pulumi.ResourceState

	// Key is the layer key of the lock for the target and build options
	// (build.LayerKey).
	Key string
	// Packages are the "name==version" pins the target installs, sorted.
	Packages []string
	// S3Key is where the build step uploads the zip: layers/NAME/KEY.zip.
	S3Key string

	Build   *local.Command
	Version *lambda.LayerVersion
	// Permissions share Version, one per grant of LayerArgs.Share, in
	// that order.
	Permissions []*lambda.LayerVersionPermission

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
	// SharedWith lists who besides this account may use the version, as
	// LayerGrant.Who gives them, each once its permission exists; empty
	// when the layer is not shared.
	SharedWith pulumi.StringArrayOutput
}

// LayerArgs says what a Layer is built from, where it goes and who may use
// it.
type LayerArgs struct {
	// LockPath is the lock relative to the project folder, slash-separated;
	// it is passed to the build command as written.
	LockPath string
	// Select names the extras and dependency groups of a pylock.toml
	// lock; they go into the build command.
	Select lock.Selection
	Lock   *lock.Lock
	Target target.Target
	// Options are the build options that are part of the key (bytecode
	// on or off); they are passed to the build command as flags.
	Options lock.Options
	// Bucket is the artifacts bucket's name.
	Bucket pulumi.StringInput
	// Region, when set, is the region the build step uploads in.
	Region string
	// Endpoint, when set, is the AWS endpoint URL the build step uploads
	// to (an emulator's).
	Endpoint string
	// KeepVersions keeps each published version (and its permissions)
	// when a new one replaces it, and on `pulumi destroy`: the provider's
	// skipDestroy. Without it a replaced version is deleted.
	KeepVersions bool
	// Share lists the principals each version is shared with.
	Share []LayerGrant
}

// LayerGrant is one principal a layer version is shared with: an account,
// every AWS account, or the accounts of an AWS Organization.
type LayerGrant struct {
	// Principal is a 12-digit account ID, or "*": every account when
	// Organization is "", else the organization's accounts.
	Principal string
	// Organization is an AWS Organization ID (o-...), or "".
	Organization string
}

// accountGrant, publicGrant and organizationGrant make the three kinds of
// grant.
func accountGrant(id string) LayerGrant       { return LayerGrant{Principal: id} }
func publicGrant() LayerGrant                 { return LayerGrant{Principal: "*"} }
func organizationGrant(org string) LayerGrant { return LayerGrant{Principal: "*", Organization: org} }

// Public reports whether g shares with every AWS account.
func (g LayerGrant) Public() bool { return g.Principal == "*" && g.Organization == "" }

// Who is g as the layerSharedWith output names it: the account ID, "*" for
// every account, or the organization ID.
func (g LayerGrant) Who() string {
	if g.Organization != "" {
		return g.Organization
	}
	return g.Principal
}

// StatementID names g in the version's policy, and its permission
// resource: "account-123456789012", "public" or "organization-o-...". It
// is unique per principal, so two grants on one version never collide,
// and `aws lambda get-layer-version-policy` shows who each statement is
// for.
func (g LayerGrant) StatementID() string {
	switch {
	case g.Organization != "":
		return "organization-" + g.Organization
	case g.Principal == "*":
		return "public"
	}
	return "account-" + g.Principal
}

// NewLayer declares the layer named name (the Lambda layer name).
func NewLayer(ctx *pulumi.Context, name string, args *LayerArgs, opts ...pulumi.ResourceOption) (*Layer, error) {
	l := &Layer{
		Key:      lock.Key(args.Lock, args.Target, args.Options),
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
	build, err := newBuildStep(ctx, name+"-build", triggers, layerBuildCommand(args, l.Key, l.S3Key),
		buildEnvironment(args.Region, args.Endpoint), parent)
	if err != nil {
		return nil, err
	}
	l.Build = build

	runtimes := make([]string, len(args.Target.Runtimes))
	for i, r := range args.Target.Runtimes {
		runtimes[i] = r.String()
	}
	versionArgs := &lambda.LayerVersionArgs{
		LayerName:               pulumi.String(name),
		S3Bucket:                args.Bucket,
		S3Key:                   pulumi.String(l.S3Key),
		Description:             pulumi.String(layerDescription(l.Packages, l.Key)),
		CompatibleRuntimes:      pulumi.ToStringArray(runtimes),
		CompatibleArchitectures: pulumi.StringArray{pulumi.String(string(args.Target.Arch))},
	}
	// Every input of a LayerVersion forces a new version (pulumi-aws has
	// no update for it), and Pulumi creates the replacement before it
	// deletes the old one. With skipDestroy the provider's delete of the
	// old version does nothing: it leaves the stack but stays in Lambda,
	// usable by whoever still pins it. Left unset when off, so a stack
	// that keeps no versions sees no change.
	if args.KeepVersions {
		versionArgs.SkipDestroy = pulumi.Bool(true)
	}
	version, err := lambda.NewLayerVersion(ctx, name, versionArgs, parent, pulumi.DependsOn([]pulumi.Resource{build}))
	if err != nil {
		return nil, err
	}
	l.Version = version

	// One permission per principal, on the version's number: a new version
	// changes the number, which replaces each permission (the provider
	// forces it too; replaceOnChanges says so where the number is not
	// known yet at preview). The new version's permission is created
	// before the old one's is removed, without a clash: they are
	// statements of two different versions' policies.
	number := version.Version.ApplyT(func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("layer %s: Lambda's version %q is not a number: %w", name, v, err)
		}
		return n, nil
	}).(pulumi.IntOutput)
	shared := pulumi.StringArray{}
	for _, g := range args.Share {
		permArgs := &lambda.LayerVersionPermissionArgs{
			LayerName:     pulumi.String(name),
			VersionNumber: number,
			Action:        pulumi.String(layerUseAction),
			Principal:     pulumi.String(g.Principal),
			StatementId:   pulumi.String(g.StatementID()),
		}
		if g.Organization != "" {
			permArgs.OrganizationId = pulumi.String(g.Organization)
		}
		// A kept version keeps its grants: an account pinned to it can
		// still create or update a function with it.
		if args.KeepVersions {
			permArgs.SkipDestroy = pulumi.Bool(true)
		}
		perm, err := lambda.NewLayerVersionPermission(ctx, name+"-share-"+g.StatementID(), permArgs,
			parent, pulumi.ReplaceOnChanges([]string{"versionNumber"}))
		if err != nil {
			return nil, err
		}
		l.Permissions = append(l.Permissions, perm)
		// Resolved once the permission exists, to the principal it grants.
		who := g.Who()
		shared = append(shared, perm.ID().ApplyT(func(pulumi.ID) string { return who }).(pulumi.StringOutput))
	}
	l.SharedWith = shared.ToStringArrayOutput()

	l.Arn = version.Arn
	l.LayerArn = version.LayerArn
	l.VersionNumber = version.Version
	l.S3Uri = pulumi.Sprintf("s3://%s/%s", args.Bucket, l.S3Key)
	l.UnzippedBytes = builtSize(build, "layer build step", l.Key)

	err = ctx.RegisterResourceOutputs(l, pulumi.Map{
		"key":           pulumi.String(l.Key),
		"packages":      pulumi.ToStringArray(l.Packages),
		"s3Uri":         l.S3Uri,
		"arn":           l.Arn,
		"layerArn":      l.LayerArn,
		"version":       l.VersionNumber,
		"unzippedBytes": l.UnzippedBytes,
		"sharedWith":    l.SharedWith,
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// layerBuildCommand is the shell command that builds the layer and uploads
// it to s3://BUCKET/S3KEY, run from the project folder:
//
//	mkdir -p .lambdapack && go run ./build/cmd/lambdapack layer --lock locks/x.txt
//	  --runtime python3.11 --runtime python3.12 --arch x86_64 [--no-bytecode]
//	  --out .lambdapack/layer-KEY.zip --upload s3://BUCKET/layers/NAME/KEY.zip
func layerBuildCommand(args *LayerArgs, key, s3Key string) pulumi.StringOutput {
	c := newBuildCommand("layer")
	c.lockFlags(args.LockPath, args.Select)
	for _, r := range args.Target.Runtimes {
		c.flag("runtime", r.String())
	}
	c.flag("arch", string(args.Target.Arch))
	c.options(args.Options)
	return c.upload(".lambdapack/layer-"+key+".zip", args.Bucket, s3Key)
}

// pins returns "name==version" for each requirement of l that applies to
// t, sorted, with the runtimes after a package that has a line per
// runtime (lock.Pins).
func pins(l *lock.Lock, t target.Target) []string { return lock.Pins(l, t) }

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
