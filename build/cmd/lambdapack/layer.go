package main

import (
	"context"
	"flag"

	"github.com/galerly/galerly-lambda/build"
)

// runLayer builds a layer zip (and with --upload stores it in S3) and
// prints its description as one JSON object on stdout; notes and progress
// go to stderr.
func runLayer(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("layer", "--lock FILE --runtime python3.X [--runtime ...] --arch x86_64|arm64 --out FILE.zip [--upload s3://BUCKET/KEY] [flags]", e.stderr)
	lockPath := fs.String("lock", "", lockUsage)
	out := fs.String("out", "", "the zip file to write")
	maxUnzipped := fs.Int64("max-unzipped", build.MaxUnzipped, "refuse a layer whose unzipped size is over this many bytes")
	var tf targetFlags
	tf.register(fs)
	var sf sourceFlags
	sf.register(fs)
	var af artifactFlags
	af.register(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	opts, err := layerOptions(fs, *lockPath, *out, *maxUnzipped, &tf, &sf)
	if err != nil {
		return err
	}
	set, err := af.settings(*lockPath, opts.Target)
	if err != nil {
		return err
	}
	opts.Select, opts.Pythons, opts.NoBytecode = set.sel, set.pythons, set.noBytecode
	if opts.SBOM, err = af.sbom.options(fs, af.upload.set, opts.Out, opts.Inputs()); err != nil {
		return err
	}
	ctx, cancel, log, err := af.start(ctx, e)
	if err != nil {
		return err
	}
	defer cancel()
	opts.Progress = e.stderr
	opts.Log = log
	opts.Sources.Log = log
	return explainTimeout(ctx, buildAndPublish(ctx, e, log, &af.upload, layerJob(ctx, opts)))
}

// layerOptions validates the layer command's flags.
func layerOptions(fs *flag.FlagSet, lockPath, out string, maxUnzipped int64, tf *targetFlags, sf *sourceFlags) (build.LayerOptions, error) {
	if lockPath == "" {
		return build.LayerOptions{}, usagef("--lock is required")
	}
	if out == "" {
		return build.LayerOptions{}, usagef("--out is required")
	}
	if maxUnzipped <= 0 || maxUnzipped > build.MaxUnzipped {
		return build.LayerOptions{}, usagef("--max-unzipped %d: want 1 to %d bytes", maxUnzipped, build.MaxUnzipped)
	}
	t, err := tf.target()
	if err != nil {
		return build.LayerOptions{}, err
	}
	src, err := sf.sources()
	if err != nil {
		return build.LayerOptions{}, err
	}
	opts := build.LayerOptions{
		Lock:        lockPath,
		Target:      t,
		Out:         out,
		Sources:     src,
		CacheDir:    sf.cacheDir,
		MaxUnzipped: maxUnzipped,
	}
	if err := build.CheckOutNotInput(out, opts.Inputs()); err != nil {
		return build.LayerOptions{}, usagef("--out: %v", err)
	}
	return opts, nil
}
