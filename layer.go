package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
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
	// Licenses is the license summary of the build's report (an SPDX
	// expression), and SbomS3Uri the SBOM its upload stored beside the
	// zip.
	Licenses  pulumi.StringOutput
	SbomS3Uri pulumi.StringOutput
	// SharingWarning is the warning the update logged because the layer
	// is shared and its builds carry code under terms their declared
	// licenses do not show; "" when it logged none.
	SharingWarning pulumi.StringOutput

	// The fields above are the layer of the stack's region built for the
	// function's architecture (LayerArgs.Target), the one the function
	// uses. Those below cover every architecture and region.

	// Builds are the layer built for each architecture, in
	// LayerArgs.Architectures's order; the function's is Key, Packages,
	// S3Key and Build above.
	Builds []*LayerBuild
	// Published are the layer versions of every region (the stack's
	// first, then LayerArgs.Regions's order) and architecture (Builds's
	// order); Version above is the stack region's for the function's
	// architecture.
	Published []*LayerPublication
	// RegionArns maps each region to each architecture to the versioned
	// ARN published there: the layerArns output.
	RegionArns pulumi.StringMapMapOutput
	// RegionVersionNumbers is RegionArns's shape with the version
	// numbers, which differ between regions: the layerVersions output.
	RegionVersionNumbers pulumi.StringMapMapOutput
	// ArchS3Uris maps each architecture to each region to the zip a
	// version was published from: the layerS3Uris output.
	ArchS3Uris pulumi.StringMapMapOutput
	// ArchSbomS3Uris is ArchS3Uris's shape with the SBOM beside each zip:
	// the layerSbomS3Uris output.
	ArchSbomS3Uris pulumi.StringMapMapOutput
}

// LayerBuild is the layer built for one architecture: once, whatever the
// number of regions, into the stack region's bucket.
type LayerBuild struct {
	Arch target.Arch
	// Key is the layer key for the runtimes, this architecture and the
	// build options; Packages are its pins, sorted.
	Key      string
	Packages []string
	// S3Key is layers/NAME/KEY.zip, in every region's bucket.
	S3Key string
	Step  *local.Command
	// Report is what Step printed: the size, the licenses and the SBOM of
	// this architecture's layer.
	Report buildReportOutput
}

// LayerPublication is the layer version of one architecture in one region.
type LayerPublication struct {
	// Region is the region's name; "" for the stack's own region when
	// aws:region is unset (the provider then takes it from the
	// environment, and the version's ARN names it).
	Region string
	Arch   target.Arch
	// Copy puts the build's zip into the region's bucket; nil in the
	// stack's region, which the build uploads to.
	Copy        *local.Command
	Version     *lambda.LayerVersion
	Permissions []*lambda.LayerVersionPermission
	// S3Uri is the zip the version was published from, and SbomS3Uri the
	// SBOM beside it, which the version's licenseInfo points to when its
	// license summary is too long.
	S3Uri     pulumi.StringOutput
	SbomS3Uri pulumi.StringOutput
	// SharedWith is Layer.SharedWith for this version.
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
	// Share lists the principals each version is shared with, in every
	// region.
	Share []LayerGrant
	// Architectures are the architectures the layer is built for, each
	// once, Target.Arch (the function's) among them; nil is Target.Arch
	// alone. The version for Target.Arch is the Lambda layer named name;
	// another architecture's is name-ARCH (name-arm64, name-x86_64).
	Architectures []target.Arch
	// Regions are the regions the layer is published in besides Region,
	// each through its own provider from its own bucket.
	Regions []LayerRegion
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

// NewLayer declares the layer named name (the Lambda layer name): a build
// per architecture, and a layer version per region and architecture.
//
// The stack's region and the function's architecture keep the names they
// had before layers were built for several (NAME-build, NAME,
// NAME-share-*), under the default provider: a stack that asks for one
// region and one architecture declares what it always did. Another
// architecture's resources take its Lambda layer name (NAME-arm64-build,
// NAME-arm64); an extra region's add the region (NAME-eu-west-1,
// NAME-arm64-eu-west-1, each with -copy and -share-* beside it).
func NewLayer(ctx *pulumi.Context, name string, args *LayerArgs, opts ...pulumi.ResourceOption) (*Layer, error) {
	l := &Layer{}
	if err := ctx.RegisterComponentResource(layerType, name, l, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(l)
	home := args.Target.Arch
	archs := args.Architectures
	if len(archs) == 0 {
		archs = []target.Arch{home}
	}
	if !slices.Contains(archs, home) {
		return nil, fmt.Errorf("layer %s: the function's architecture %s is not among the layer's %v", name, home, archs)
	}

	// One build per architecture, whatever the number of regions: the
	// extra regions copy its zip from the stack region's bucket.
	for _, arch := range archs {
		t := args.Target
		t.Arch = arch
		b := &LayerBuild{Arch: arch, Key: lock.Key(args.Lock, t, args.Options), Packages: lock.Pins(args.Lock, t)}
		b.S3Key = "layers/" + name + "/" + b.Key + ".zip"
		// The triggers name the key and every pin, so a changed lock
		// replaces the build step and the preview lists the pins that
		// differ, once per architecture.
		triggers := pulumi.Array{pulumi.String(b.Key)}
		for _, p := range b.Packages {
			triggers = append(triggers, pulumi.String(p))
		}
		lambdaName := layerNameFor(name, arch, home)
		step, err := newBuildStep(ctx, lambdaName+"-build", triggers, layerBuildCommand(args, t, lambdaName, b.Key, b.S3Key),
			buildEnvironment(args.Region, args.Endpoint), parent)
		if err != nil {
			return nil, err
		}
		b.Step = step
		b.Report = stepReport(step, "layer build step "+lambdaName+"-build", b.Key)
		l.Builds = append(l.Builds, b)
	}

	for _, b := range l.Builds {
		p, err := publishLayer(ctx, name, args, b, publication{funcArch: home, parent: parent, region: args.Region, homeRegion: true,
			bucket: args.Bucket, after: b.Step})
		if err != nil {
			return nil, err
		}
		l.Published = append(l.Published, p)
	}
	for _, region := range args.Regions {
		for _, b := range l.Builds {
			base := publicationName(name, b.Arch, home, region.Name, false)
			copyStep, err := newCopyStep(ctx, base+"-copy", args, b, region, parent)
			if err != nil {
				return nil, err
			}
			p, err := publishLayer(ctx, name, args, b, publication{funcArch: home, parent: parent, region: region.Name,
				bucket: region.Bucket, provider: region.Provider, after: copyStep})
			if err != nil {
				return nil, err
			}
			p.Copy = copyStep
			l.Published = append(l.Published, p)
		}
	}

	// The function's: its architecture, in the stack's region.
	built, used := l.Builds[slices.Index(archs, home)], l.Published[slices.Index(archs, home)]
	l.Key, l.Packages, l.S3Key, l.Build = built.Key, built.Packages, built.S3Key, built.Step
	l.Version, l.Permissions = used.Version, used.Permissions
	l.Arn = used.Version.Arn
	l.LayerArn = used.Version.LayerArn
	l.VersionNumber = used.Version.Version
	l.S3Uri = used.S3Uri
	l.SharedWith = used.SharedWith
	l.UnzippedBytes = built.Report.unzippedBytes()
	l.Licenses = built.Report.licenses()
	l.SbomS3Uri = used.SbomS3Uri
	l.RegionArns, l.RegionVersionNumbers, l.ArchS3Uris, l.ArchSbomS3Uris = layerMaps(l.Published, used.Version.Arn)
	l.SharingWarning = warnSharedCopyleft(ctx, l, name, args.Share)

	err := ctx.RegisterResourceOutputs(l, pulumi.Map{
		"key":            pulumi.String(l.Key),
		"packages":       pulumi.ToStringArray(l.Packages),
		"s3Uri":          l.S3Uri,
		"arn":            l.Arn,
		"layerArn":       l.LayerArn,
		"version":        l.VersionNumber,
		"unzippedBytes":  l.UnzippedBytes,
		"sharedWith":     l.SharedWith,
		"arns":           l.RegionArns,
		"versions":       l.RegionVersionNumbers,
		"s3Uris":         l.ArchS3Uris,
		"licenses":       l.Licenses,
		"sbomS3Uri":      l.SbomS3Uri,
		"sbomS3Uris":     l.ArchSbomS3Uris,
		"sharingWarning": l.SharingWarning,
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// layerNameFor is the Lambda layer name of the layer built for arch: name
// for the function's architecture home, name-ARCH for the other.
func layerNameFor(name string, arch, home target.Arch) string {
	if arch == home {
		return name
	}
	return name + "-" + string(arch)
}

// publicationName is the base name of the resources that publish the
// layer built for arch in region: the Lambda layer name, and in an extra
// region the region after it. Pulumi names are per stack, and one Lambda
// layer name is published in every region.
func publicationName(name string, arch, home target.Arch, region string, homeRegion bool) string {
	n := layerNameFor(name, arch, home)
	if !homeRegion {
		n += "-" + region
	}
	return n
}

// publication says where a build is published.
type publication struct {
	funcArch target.Arch // the function's architecture, for names
	parent   pulumi.ResourceOption
	region   string
	// homeRegion is the stack's region, under the default provider.
	homeRegion bool
	bucket     pulumi.StringInput
	// provider is the region's; nil in the stack's region.
	provider *aws.Provider
	// after is what puts the zip into bucket: the build, or a copy.
	after pulumi.Resource
}

// publishLayer declares the layer version of build b in the region of at,
// and its permissions.
func publishLayer(ctx *pulumi.Context, name string, args *LayerArgs, b *LayerBuild, at publication) (*LayerPublication, error) {
	base := publicationName(name, b.Arch, at.funcArch, at.region, at.homeRegion)
	layerName := layerNameFor(name, b.Arch, at.funcArch)
	opts := []pulumi.ResourceOption{at.parent}
	if at.provider != nil {
		opts = append(opts, pulumi.Provider(at.provider))
	}
	runtimes := make([]string, len(args.Target.Runtimes))
	for i, r := range args.Target.Runtimes {
		runtimes[i] = r.String()
	}
	// The stack's region has the SBOM the build stored, as its report
	// names it; an extra region the one its copy step put beside the zip
	// there.
	sbomURI := b.Report.sbomS3Uri()
	if !at.homeRegion {
		sbomURI = pulumi.Sprintf("s3://%s/%s", at.bucket, sbomKey(b.S3Key))
	}
	versionArgs := &lambda.LayerVersionArgs{
		LayerName:               pulumi.String(layerName),
		S3Bucket:                at.bucket,
		S3Key:                   pulumi.String(b.S3Key),
		Description:             pulumi.String(layerDescription(b.Packages, b.Key)),
		LicenseInfo:             layerLicenseInfo(b.Report, sbomURI),
		CompatibleRuntimes:      pulumi.ToStringArray(runtimes),
		CompatibleArchitectures: pulumi.StringArray{pulumi.String(string(b.Arch))},
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
	version, err := lambda.NewLayerVersion(ctx, base, versionArgs, append(opts, pulumi.DependsOn([]pulumi.Resource{at.after}))...)
	if err != nil {
		return nil, err
	}
	p := &LayerPublication{Region: at.region, Arch: b.Arch, Version: version, S3Uri: pulumi.Sprintf("s3://%s/%s", at.bucket, b.S3Key), SbomS3Uri: sbomURI}

	// One permission per principal, on the version's number: a new version
	// changes the number, which replaces each permission (the provider
	// forces it too; replaceOnChanges says so where the number is not
	// known yet at preview). The new version's permission is created
	// before the old one's is removed, without a clash: they are
	// statements of two different versions' policies.
	where := layerName
	if !at.homeRegion {
		where += " in " + at.region
	}
	number := version.Version.ApplyT(func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("layer %s: Lambda's version %q is not a number: %w", where, v, err)
		}
		return n, nil
	}).(pulumi.IntOutput)
	shared := pulumi.StringArray{}
	for _, g := range args.Share {
		permArgs := &lambda.LayerVersionPermissionArgs{
			LayerName:     pulumi.String(layerName),
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
		perm, err := lambda.NewLayerVersionPermission(ctx, base+"-share-"+g.StatementID(), permArgs,
			append(opts, pulumi.ReplaceOnChanges([]string{"versionNumber"}))...)
		if err != nil {
			return nil, err
		}
		p.Permissions = append(p.Permissions, perm)
		// Resolved once the permission exists, to the principal it grants.
		who := g.Who()
		shared = append(shared, perm.ID().ApplyT(func(pulumi.ID) string { return who }).(pulumi.StringOutput))
	}
	p.SharedWith = shared.ToStringArrayOutput()
	return p, nil
}

// newCopyStep declares the step that copies build b's zip, with the SBOM
// and the report beside it, from the stack region's bucket to region's,
// inside S3 (`lambdapack copy`): nothing is built again, and nothing is
// downloaded. Like a build step it runs when its triggers change: the
// key, where the copy goes, and the SBOM the build reported (so a build
// that stored a new SBOM for the same key, as the first build with SBOMs
// does, is copied again). An object already there with the same bytes is
// reused, by the same proof as an upload's.
func newCopyStep(ctx *pulumi.Context, name string, args *LayerArgs, b *LayerBuild, region LayerRegion, parent pulumi.ResourceOption) (*local.Command, error) {
	c := newBuildCommand("copy")
	c.flag("build-key", b.Key)
	create := c.copy(args.Bucket, args.Region, region.Bucket, b.S3Key)
	triggers := pulumi.Array{pulumi.String(b.Key), pulumi.String(region.Name), pulumi.Sprintf("s3://%s/%s", region.Bucket, b.S3Key), b.Report.sbomSHA256()}
	return newBuildStep(ctx, name, triggers, create, buildEnvironment(region.Name, args.Endpoint),
		parent, pulumi.DependsOn([]pulumi.Resource{b.Step}))
}

// layerMaps are the layerArns, layerVersions, layerS3Uris and
// layerSbomS3Uris outputs of the published versions. homeArn is the
// version the function uses: when aws:region is unset, the stack region's
// name is taken from its ARN.
func layerMaps(published []*LayerPublication, homeArn pulumi.StringOutput) (arns, versions, uris, sboms pulumi.StringMapMapOutput) {
	const per = 4 // values per publication in parts
	var parts []any
	for _, p := range published {
		parts = append(parts, p.Version.Arn, p.Version.Version, p.S3Uri, p.SbomS3Uri)
	}
	all := pulumi.All(append(parts, homeArn)...)
	toMap := func(pick func(v []any, i int) (outer, inner, value string)) pulumi.StringMapMapOutput {
		return all.ApplyT(func(v []any) map[string]map[string]string {
			out := map[string]map[string]string{}
			for i := range published {
				outer, inner, value := pick(v, i)
				if out[outer] == nil {
					out[outer] = map[string]string{}
				}
				out[outer][inner] = value
			}
			return out
		}).(pulumi.StringMapMapOutput)
	}
	region := func(v []any, i int) string {
		if r := published[i].Region; r != "" {
			return r
		}
		return arnRegion(v[len(v)-1].(string))
	}
	arns = toMap(func(v []any, i int) (string, string, string) {
		return region(v, i), string(published[i].Arch), v[per*i].(string)
	})
	versions = toMap(func(v []any, i int) (string, string, string) {
		return region(v, i), string(published[i].Arch), v[per*i+1].(string)
	})
	uris = toMap(func(v []any, i int) (string, string, string) {
		return string(published[i].Arch), region(v, i), v[per*i+2].(string)
	})
	sboms = toMap(func(v []any, i int) (string, string, string) {
		return string(published[i].Arch), region(v, i), v[per*i+3].(string)
	})
	return arns, versions, uris, sboms
}

// arnRegion is the region field of an ARN (arn:PARTITION:SERVICE:REGION:...).
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

// layerBuildCommand is the shell command that builds the layer and uploads
// it to s3://BUCKET/S3KEY, run from the project folder:
//
//	mkdir -p .lambdapack && go run ./build/cmd/lambdapack layer --lock locks/x.txt
//	  --runtime python3.11 --runtime python3.12 --arch x86_64 [--no-bytecode]
//	  --name NAME --out .lambdapack/layer-KEY.zip --upload s3://BUCKET/layers/NAME/KEY.zip
//
// lambdaName, the Lambda layer's name for t's architecture, names the
// layer in its SBOM.
func layerBuildCommand(args *LayerArgs, t target.Target, lambdaName, key, s3Key string) pulumi.StringOutput {
	c := newBuildCommand("layer")
	c.lockFlags(args.LockPath, args.Select)
	for _, r := range t.Runtimes {
		c.flag("runtime", r.String())
	}
	c.flag("arch", string(t.Arch))
	c.options(args.Options)
	c.flag("name", lambdaName)
	return c.upload(".lambdapack/layer-"+key+".zip", args.Bucket, s3Key)
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
