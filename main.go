// Command galerly-lambda is the Pulumi program that deploys Galerly's photo
// API: an artifacts bucket, the image-processing Lambda layer built from a
// hashed lock, and (still to come, in function.go) the function that uses it.
//
// Run it with the Pulumi CLI (`pulumi stack select prod && pulumi up`);
// README.md describes the config keys and outputs.
package main

import (
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() { pulumi.Run(program) }

// program declares one stack: config, then the artifacts bucket, then the
// layer, then the stack's outputs.
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
	layer, err := NewLayer(ctx, cfg.Layer.Name, &LayerArgs{
		LockPath: cfg.Layer.LockPath,
		Lock:     cfg.Layer.Lock,
		Target:   cfg.Layer.Target,
		Bucket:   bucket,
		Region:   cfg.Region,
	})
	if err != nil {
		return nil, err
	}
	outputs := map[string]pulumi.Input{
		"layerArn":            layer.Arn,
		"layerUnversionedArn": layer.LayerArn,
		"layerVersion":        layer.VersionNumber,
		"layerKey":            pulumi.String(layer.Key),
		"layerPackages":       pulumi.ToStringArray(layer.Packages),
		"layerS3Uri":          layer.S3Uri,
		"layerUnzippedBytes":  layer.UnzippedBytes,
	}

	// The function (function.go, not written yet) goes here: it takes cfg.Function, the
	// bucket and the layer (its Arn for the function's layers, its
	// UnzippedBytes for the size check) and adds its outputs to the map.
	return outputs, nil
}
