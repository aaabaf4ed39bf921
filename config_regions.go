package main

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/galerly/galerly-lambda/build/target"
)

// RegionsConfig is where the layer is published and which architectures
// it is built for: layerRegions, layerArchitectures and artifactsBuckets.
// With none of them set it is the stack's region and architecture alone,
// and the program declares exactly what it did before they existed.
type RegionsConfig struct {
	// Home is aws:region: where the function runs, where each
	// architecture's build uploads (to artifactsBucket) and where the
	// layer is published through the stack's default provider. "" when
	// aws:region is unset, which leaves no extra region.
	Home string
	// Extra are the regions the layer is published in besides Home, in
	// the order configured, each through a provider of its own.
	Extra []string
	// Architectures are the architectures the layer is built for, in the
	// order configured; the function's (architecture) is among them.
	Architectures []target.Arch
	// Buckets names the existing artifacts bucket of an extra region
	// (artifactsBuckets); an extra region without one gets a bucket
	// created in the stack.
	Buckets map[string]string
	// Provider is the stack's settings of the aws provider (aws:* besides
	// aws:region), which each extra region's provider is given too.
	Provider []providerSetting
}

// providerSetting is one aws:KEY the stack sets, as the CLI passes it to
// the program: text, with lists and objects as JSON.
type providerSetting struct {
	Key    string // without "aws:"
	Value  string
	Secret bool
}

// regionPartitions are the AWS partitions and the form of their region
// names, from the AWS SDKs' partitions.json (regionRegex), the more
// specific forms first; "\w" is narrowed to lowercase letters, as every
// region is spelled.
var regionPartitions = []struct {
	partition string
	form      *regexp.Regexp
}{
	{"aws-cn", regexp.MustCompile(`^cn-[a-z]+-[0-9]+$`)},
	{"aws-us-gov", regexp.MustCompile(`^us-gov-[a-z]+-[0-9]+$`)},
	{"aws-iso", regexp.MustCompile(`^us-iso-[a-z]+-[0-9]+$`)},
	{"aws-iso-b", regexp.MustCompile(`^us-isob-[a-z]+-[0-9]+$`)},
	{"aws-iso-e", regexp.MustCompile(`^eu-isoe-[a-z]+-[0-9]+$`)},
	{"aws-iso-f", regexp.MustCompile(`^us-isof-[a-z]+-[0-9]+$`)},
	{"aws-eusc", regexp.MustCompile(`^eusc-de-[a-z]+-[0-9]+$`)},
	{"aws", regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]+$`)},
}

// regionPartition returns the partition whose region form name has, and
// false when it has none.
func regionPartition(name string) (string, bool) {
	for _, p := range regionPartitions {
		if p.form.MatchString(name) {
			return p.partition, true
		}
	}
	return "", false
}

// partition is the AWS partition of region (for ARNs: the basic execution
// policy, the photos bucket), by the same region forms layerRegions is
// checked against; "aws" for a region of no known form, or none.
func partition(region string) string {
	if p, ok := regionPartition(region); ok {
		return p
	}
	return "aws"
}

// readRegionsConfig reads layerRegions, layerArchitectures and
// artifactsBuckets. home is aws:region, arch the function's architecture
// ("" when bad) and layer the layer's config as read, for checking its
// lock and name against each architecture.
func readRegionsConfig(ctx *pulumi.Context, r *configReader, home string, arch target.Arch, layer LayerConfig) RegionsConfig {
	rc := RegionsConfig{Home: home}
	rc.Extra = r.extraRegions(home)
	rc.Architectures = r.layerArchitectures(arch, layer)
	rc.Buckets = r.regionBuckets(rc)
	if len(rc.Extra) > 0 {
		rc.Provider = r.providerSettings(ctx)
	}
	return rc
}

// extraRegions reads layerRegions and returns the regions besides home.
// Every region must have an AWS partition's form, be listed once and be
// in home's partition (one stack's credentials reach one partition, and a
// layer is shared within its partition only); home must be listed, as the
// function runs there.
func (r *configReader) extraRegions(home string) []string {
	const key = "layerRegions"
	regions := r.optionalList(key)
	if len(regions) == 0 {
		return nil
	}
	if home == "" {
		r.fail(key, "is set but aws:region is not: the stack's own region (where the function runs) must be named, and listed here; "+
			"set it with `pulumi config set aws:region REGION`")
		return nil
	}
	homePartition, homeOK := regionPartition(home)
	var extra []string
	for i, name := range regions {
		p, ok := regionPartition(name)
		switch {
		case !ok:
			r.fail(key, "[%d] %q is not an AWS region name: want the form of a partition's regions, e.g. us-east-1 or eu-west-1 (aws), "+
				"cn-north-1 (aws-cn), us-gov-west-1 (aws-us-gov)", i, name)
		case slices.Contains(regions[:i], name):
			r.fail(key, "[%d] %s is listed twice", i, name)
		case homeOK && p != homePartition:
			r.fail(key, "[%d] %s is in the %s partition, the stack's region %s in %s: one stack's credentials reach one partition, "+
				"and a layer is shared within its own; publish there from a stack of that partition", i, name, p, home, homePartition)
		case name != home:
			extra = append(extra, name)
		}
	}
	if !slices.Contains(regions, home) {
		r.fail(key, "does not list %s, the stack's region (aws:region): the function runs there and takes the layer from there; "+
			"list it too (unset, the layer is published there alone)", home)
	}
	if !homeOK {
		r.fail(key, "aws:region %q is not an AWS region name, so the regions cannot be checked against its partition", home)
	}
	return extra
}

// layerArchitectures reads layerArchitectures: the function's
// architecture alone when unset; otherwise each of x86_64 and arm64 at
// most once, the function's among them. The lock must fit each, and the
// layer's name leave room for the suffix the other architecture's layer
// takes (NAME-arm64, NAME-x86_64).
func (r *configReader) layerArchitectures(arch target.Arch, layer LayerConfig) []target.Arch {
	const key = "layerArchitectures"
	names := r.optionalList(key)
	if len(names) == 0 {
		if arch == "" {
			return nil
		}
		return []target.Arch{arch}
	}
	var archs []target.Arch
	for i, s := range names {
		a, err := target.ParseArch(s)
		switch {
		case err != nil:
			r.fail(key, "[%d] %v", i, err)
		case slices.Contains(archs, a):
			r.fail(key, "[%d] %s is listed twice", i, a)
		default:
			archs = append(archs, a)
		}
	}
	if arch != "" && !slices.Contains(archs, arch) && !r.failed(key) {
		r.fail(key, "does not list %s, the function's architecture (%s): the function could not use the layer", arch, r.full("architecture"))
	}
	for _, a := range archs {
		if a == arch {
			continue // readLayerConfig checked the lock for it
		}
		if name := layerNameFor(layer.Name, a, arch); !r.failed("layerName") && !lambdaName.MatchString(name) {
			r.fail(key, "the %s layer would be named %s, over Lambda's 64 characters: shorten %s", a, name, r.full("layerName"))
		}
		if layer.Lock == nil || len(layer.Target.Runtimes) == 0 {
			continue
		}
		t := target.Target{Runtimes: layer.Target.Runtimes, Arch: a}
		if err := layer.Lock.Check(t); err != nil {
			r.fail(key, "%s: %v", a, err)
		} else if len(layer.Lock.For(t)) == 0 {
			r.fail(key, "%s: %s has no requirement for %s: that layer would be empty", a, layer.LockPath, t)
		}
	}
	return archs
}

// regionBuckets reads artifactsBuckets: an existing bucket for an extra
// region, by region ({"eu-west-1": "NAME"}). The home region's bucket is
// artifactsBucket, and a bucket belongs to one region, so a name is given
// once.
func (r *configReader) regionBuckets(rc RegionsConfig) map[string]string {
	const key = "artifactsBuckets"
	v, ok := r.raw(key)
	if !ok {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		r.fail(key, "%q is not a map from region to bucket name: set each with `pulumi config set --path 'artifactsBuckets[\"eu-west-1\"]' BUCKET`", v)
		return nil
	}
	if len(m) == 0 {
		return nil
	}
	out := map[string]string{}
	owner := map[string]string{}
	for _, region := range slices.Sorted(maps.Keys(m)) {
		name, isString := m[region].(string)
		switch {
		case region == rc.Home:
			r.fail(key, "names %s, the stack's region: its bucket is %s", region, r.full("artifactsBucket"))
		case !slices.Contains(rc.Extra, region):
			r.fail(key, "names %s, which is not among the extra regions of %s (%s)", region, r.full("layerRegions"), strings.Join(rc.Extra, ", "))
		case !isString:
			r.fail(key, "%s: %v is not an S3 bucket name", region, m[region])
		case checkBucketName(name) != nil:
			r.fail(key, "%s: %v", region, checkBucketName(name))
		case owner[name] != "":
			r.fail(key, "%s and %s both name %s: a bucket is in one region", owner[name], region, name)
		default:
			owner[name] = region
			out[region] = name
		}
	}
	return out
}

// providerSettings reads the aws:* keys the stack sets besides aws:region,
// for the extra regions' providers, and checks each can be carried to
// them. A setting the program cannot carry is refused, never dropped: an
// extra region's provider without the stack's profile or endpoints would
// deploy with other credentials, or to another place.
func (r *configReader) providerSettings(ctx *pulumi.Context) []providerSetting {
	aws := config.New(ctx, "aws")
	var out []providerSetting
	for _, key := range providerKeys() {
		if key == "region" {
			continue
		}
		v, err := aws.Try(key)
		if err != nil {
			continue
		}
		s := providerSetting{Key: key, Value: v, Secret: ctx.IsConfigSecret("aws:" + key)}
		if _, err := regionProviderArgs("", []providerSetting{s}); err != nil {
			r.fail("layerRegions", "%v", err)
			continue
		}
		out = append(out, s)
	}
	return out
}
