// Command galerly-lambda is the Pulumi program that deploys Galerly's photo
// API: an artifacts bucket, the image-processing Lambda layer built from a
// hashed lock, and the function that uses it (with any extra functions
// sharing its code and layer), each new version smoke-tested before its
// live alias moves.
//
// Run it with the Pulumi CLI (`pulumi stack select prod && pulumi up`);
// docs/configuration.md describes the config keys, docs/operations.md the
// outputs.
package main

import (
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() { pulumi.Run(program) }

// program declares one stack: config, then the artifacts bucket, then the
// layer, then the functions, then the stack's outputs.
func program(ctx *pulumi.Context) error {
	outputs, err := deploy(ctx)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(outputs)) {
		ctx.Export(name, outputs[name])
	}
	return nil
}

// deploy declares the stack's resources and returns its outputs by name.
func deploy(ctx *pulumi.Context) (map[string]pulumi.Input, error) {
	root := ctx.RootDirectory()
	if root == "" {
		root = "." // run outside the CLI: the program's own folder
	}
	cfg, err := loadConfig(ctx, root)
	if err != nil {
		return nil, err
	}
	bucket, err := artifactsBucket(ctx, cfg)
	if err != nil {
		return nil, err
	}
	regions, err := newLayerRegions(ctx, cfg.Regions)
	if err != nil {
		return nil, err
	}
	layer, err := NewLayer(ctx, cfg.Layer.Name, &LayerArgs{
		LockPath:     cfg.Layer.LockPath,
		Select:       cfg.Layer.Select,
		Lock:         cfg.Layer.Lock,
		Target:       cfg.Layer.Target,
		Options:      cfg.KeyOptions(),
		Bucket:       bucket,
		Region:       cfg.Region,
		Endpoint:     cfg.BuildEndpoint,
		KeepVersions: cfg.Layer.KeepVersions,
		Share:        cfg.Sharing.Grants(),
		// Several regions and architectures (layer.go, regions.go).
		Architectures: cfg.Regions.Architectures,
		Regions:       regions,
	})
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Sharing.Warnings(ctx.Project(), cfg.Layer.Name) {
		if err := ctx.Log.Warn(w, &pulumi.LogArgs{Resource: layer}); err != nil {
			return nil, err
		}
	}
	f := cfg.Function
	layers := pulumi.StringArray{layer.Arn}
	for _, arn := range f.ExtraLayerArns {
		layers = append(layers, pulumi.String(arn))
	}
	env := pulumi.StringMap{}
	if f.StripeSecretKey != "" {
		env["STRIPE_SECRET_KEY"] = pulumi.ToSecret(pulumi.String(string(f.StripeSecretKey))).(pulumi.StringOutput)
	}
	for k, v := range cfg.Photos.Environment() {
		env[k] = pulumi.String(v)
	}
	// Every function shares the code, the layer, the environment, the
	// policies, SnapStart and the saved queries; each has its own handler,
	// size, role, logs and alias.
	args := func(handler string, memory, timeout int) *FunctionArgs {
		return &FunctionArgs{
			Source:             f.Source,
			LockPath:           f.LockPath,
			Select:             f.Select,
			CodeKey:            f.CodeKey,
			Options:            cfg.KeyOptions(),
			Runtime:            f.Runtime,
			Arch:               f.Arch,
			Handler:            handler,
			MemorySize:         memory,
			Timeout:            timeout,
			LogRetentionDays:   f.LogRetentionDays,
			Environment:        env,
			Layers:             layers,
			LayerUnzippedBytes: layer.UnzippedBytes,
			PolicyArns:         f.PolicyArns,
			PhotosPolicy:       cfg.Photos.ReadPolicy(partition(cfg.Region)),
			Partition:          partition(cfg.Region),
			Bucket:             bucket,
			Region:             cfg.Region,
			Endpoint:           cfg.BuildEndpoint,
			SmokeTest:          f.SmokeTest,
			SnapStart:          cfg.ColdStarts.SnapStart,
			LogQueries:         cfg.ColdStarts.LogQueries,
		}
	}
	fn, err := NewFunction(ctx, f.Name, args(f.Handler, f.MemorySize, f.Timeout))
	if err != nil {
		return nil, err
	}
	extraAliases := pulumi.StringMap{}
	queries := pulumi.StringArrayMap{}
	if fn.LogQueryNames != nil {
		queries[f.Name] = pulumi.ToStringArray(fn.LogQueryNames)
	}
	for _, e := range f.Extra {
		x, err := NewFunction(ctx, e.Name, args(e.Handler, e.MemorySize, e.Timeout))
		if err != nil {
			return nil, err
		}
		extraAliases[e.Name] = x.LiveAliasArn
		if x.LogQueryNames != nil {
			queries[e.Name] = pulumi.ToStringArray(x.LogQueryNames)
		}
	}

	return map[string]pulumi.Input{
		"layerArn":              layer.Arn,
		"layerUnversionedArn":   layer.LayerArn,
		"layerVersion":          layer.VersionNumber,
		"layerKey":              pulumi.String(layer.Key),
		"layerPackages":         pulumi.ToStringArray(layer.Packages),
		"layerS3Uri":            layer.S3Uri,
		"layerUnzippedBytes":    layer.UnzippedBytes,
		"layerSharedWith":       layer.SharedWith,
		"layerArns":             layer.RegionArns,
		"layerVersions":         layer.RegionVersionNumbers,
		"layerS3Uris":           layer.ArchS3Uris,
		"layerLicenses":         layer.Licenses,
		"layerSbomS3Uri":        layer.SbomS3Uri,
		"layerSbomS3Uris":       layer.ArchSbomS3Uris,
		"functionName":          fn.Name,
		"functionArn":           fn.Arn,
		"functionVersion":       fn.Version,
		"liveAliasArn":          fn.LiveAliasArn,
		"codeKey":               pulumi.String(fn.CodeKey),
		"functionS3Uri":         pulumi.Sprintf("s3://%s/%s", bucket, fn.S3Key),
		"functionUnzippedBytes": fn.UnzippedBytes,
		"functionSbomS3Uri":     fn.SbomS3Uri,
		"extraLiveAliasArns":    extraAliases,
		"logQueryNames":         queries,
	}, nil
}
