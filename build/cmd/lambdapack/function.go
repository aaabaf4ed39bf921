package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/source"
)

// runFunction builds a function package and prints its description as one
// JSON object on stdout; warnings, notes and progress go to stderr.
func runFunction(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("function", "--src DIR [--lock FILE] --runtime python3.X --arch x86_64|arm64 --out FILE.zip [flags]", e.stderr)
	src := fs.String("src", "", "the function's source folder")
	lockPath := fs.String("lock", "", "the hashed lock of the function's own dependencies (optional): "+lockUsage)
	out := fs.String("out", "", "the zip file to write (outside --src)")
	var filter source.Filter
	fs.Var((*stringList)(&filter.Exclude), "exclude", "leave out what `PATTERN` matches, besides the default excludes (repeatable; gitignore-like, relative to --src)")
	fs.Var((*stringList)(&filter.Include), "include", "pack what `PATTERN` matches even when an exclude matches it (repeatable)")
	var layers sizeList
	fs.Var(&layers, "with-layer-unzipped", "unzipped `BYTES` of a layer the function uses, counted against Lambda's limit (repeatable, at most 5)")
	var tf targetFlags
	fs.Var(&tf.runtimes, "runtime", "the function's Lambda runtime, e.g. python3.11 (exactly one)")
	fs.StringVar(&tf.arch, "arch", "", "architecture: x86_64 or arm64")
	var sf sourceFlags
	sf.register(fs)
	var af artifactFlags
	af.register(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	opts, err := functionOptions(fs, *src, *lockPath, *out, filter, layers, &tf, &sf)
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
	return explainTimeout(ctx, buildAndPublish(ctx, e, log, &af.upload, functionJob(ctx, opts)))
}

// functionOptions validates the function command's flags.
func functionOptions(fs *flag.FlagSet, src, lockPath, out string, filter source.Filter, layers sizeList, tf *targetFlags, sf *sourceFlags) (build.FunctionOptions, error) {
	if src == "" {
		return build.FunctionOptions{}, usagef("--src is required")
	}
	switch st, err := os.Stat(src); {
	case errors.Is(err, os.ErrNotExist):
		return build.FunctionOptions{}, usagef("--src %s: no such folder", src)
	case err != nil:
		return build.FunctionOptions{}, usagef("--src %s: %v", src, err)
	case !st.IsDir():
		return build.FunctionOptions{}, usagef("--src %s is a file, not a folder: give the folder that holds the function's code", src)
	}
	if out == "" {
		return build.FunctionOptions{}, usagef("--out is required")
	}
	if err := filter.Check(); err != nil {
		return build.FunctionOptions{}, usagef("%v", err)
	}
	t, err := tf.target()
	if err != nil {
		return build.FunctionOptions{}, err
	}
	if len(t.Runtimes) != 1 {
		return build.FunctionOptions{}, usagef("--runtime: a function runs on one runtime, got %s", strings.Join(tf.runtimes, ", "))
	}
	srcs, err := sf.sources()
	if err != nil {
		return build.FunctionOptions{}, err
	}
	opts := build.FunctionOptions{
		Src:           src,
		Lock:          lockPath,
		Target:        t,
		Out:           out,
		Filter:        filter,
		LayerUnzipped: layers,
		Sources:       srcs,
		CacheDir:      sf.cacheDir,
	}
	if err := build.CheckOutNotInput(out, opts.Inputs()); err != nil {
		return build.FunctionOptions{}, usagef("--out: %v", err)
	}
	if err := build.CheckCacheNotInSrc(opts.CacheDir, src); err != nil {
		return build.FunctionOptions{}, usagef("--cache: %v", err)
	}
	return opts, nil
}

// sizeList is a repeatable flag of sizes in bytes.
type sizeList []int64

func (s *sizeList) String() string {
	parts := make([]string, len(*s))
	for i, n := range *s {
		parts[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(parts, ",")
}

// Set appends one size: a whole number of bytes, as `lambdapack layer`
// reports unzippedBytes.
func (s *sizeList) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("want a size in bytes (a whole number, as a layer's unzippedBytes), got %s", clip.Quote(v))
	}
	*s = append(*s, n)
	return nil
}
