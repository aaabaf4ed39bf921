// Package build turns a hashed lock into a byte-reproducible Lambda
// artifact: it reads the lock (build/lock), computes the key, resolves each
// pinned package to the most specific wheel whose sha256 the lock names
// (build/wheel, build/index), fetches what the cache lacks (build/cache),
// and assembles the zip (build/pack).
//
// The zip's bytes depend only on the lock's requirements and the target:
// not on the machine, the folder, the clock, the umask, which index served
// a file, or the order downloads finished in. A build that fails writes
// nothing: no output file, no cache entry that does not match its hash.
package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/license"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
)

// MaxUnzipped is Lambda's limit on a function and all its layers,
// unzipped: 250 MiB.
const MaxUnzipped = target.MaxUnzippedBytes

// defaultJobs bounds parallel index queries and downloads: enough to hide
// latency, few enough not to trip an index's rate limit.
const defaultJobs = 8

// LayerOptions says what to build and where to look for wheels.
type LayerOptions struct {
	Lock   string        // path of the lock file
	Target target.Target // runtimes and architecture
	Out    string        // path of the zip to write
	// Select chooses a pylock.toml's extras and dependency groups; the
	// zero value is its default install. It must be zero for a
	// requirements file.
	Select lock.Selection

	Sources  index.Sources // where wheels come from
	CacheDir string        // "" for cache.DefaultDir()

	// MaxUnzipped caps the unzipped size; MaxUnzipped (the package
	// constant) if zero. It may only lower Lambda's limit.
	MaxUnzipped int64
	// Jobs bounds parallel index queries and downloads; 8 if zero.
	Jobs int
	// NoBytecode leaves out the .pyc files compiled for each runtime.
	NoBytecode bool
	// Pythons are the interpreters to compile each runtime's bytecode
	// with (--python 3.X=PATH); a runtime not named here is looked for
	// on PATH, in pyenv and with uv (bytecode.Finder).
	Pythons map[target.Runtime]string

	// findInterpreter replaces bytecode.Finder.Find in tests.
	findInterpreter interpreterFinder

	// Progress receives a live download line when it is a terminal.
	Progress io.Writer
	// Log receives notes a person may want to read (what was left out of
	// a wheel, why a wheel was chosen); nothing if nil.
	Log io.Writer

	// SBOM says how the layer's SBOM is written.
	SBOM SBOMOptions
}

// Inputs are the files and folders the build reads.
func (opts *LayerOptions) Inputs() Inputs {
	return Inputs{Lock: opts.Lock, FindLinks: opts.Sources.FindLinks, Cache: opts.CacheDir}
}

// KeyOptions are the options of opts that are part of the layer key.
func (opts *LayerOptions) KeyOptions() lock.Options {
	return lock.Options{NoBytecode: opts.NoBytecode}
}

// Result describes a built artifact. Its JSON form is what
// `lambdapack layer` prints.
type Result struct {
	Key           string `json:"key"`
	SHA256        string `json:"sha256"`
	ZipBytes      int64  `json:"zipBytes"`
	UnzippedBytes int64  `json:"unzippedBytes"`
	// BytecodeBytes is the part of UnzippedBytes that is compiled .pyc.
	BytecodeBytes int64     `json:"bytecodeBytes"`
	Files         int       `json:"files"`
	Packages      []Package `json:"packages"`
	// Bytecode says, per runtime, which interpreter compiled the bytecode
	// and how many sources it compiled; absent with NoBytecode.
	Bytecode []BytecodeReport `json:"bytecode,omitempty"`
	// Licenses is the AND of the packages' declared licenses, as SPDX
	// (license.And); "" for a function package with no dependencies.
	Licenses string `json:"licenses"`
	// LicenseConcerns are the packages that carry more than they declare
	// (or declare copyleft terms), each with why.
	LicenseConcerns []license.Concern `json:"licenseConcerns"`
	// SBOM says where the SBOM was written or stored; absent when it was
	// neither.
	SBOM *SBOMReport `json:"sbom,omitempty"`

	sbomDoc []byte // the CycloneDX 1.6 document (SBOMDocument)
}

// Package is one wheel that went into an artifact.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Wheel   string `json:"wheel"`
	SHA256  string `json:"sha256"`
	// Path is the folder of the zip the wheel was installed into, e.g.
	// "python/" or "python/lib/python3.12/site-packages/".
	Path string `json:"path"`
}

// LayerKey computes the layer key of the lock at path for t built with o, in process
// and with no network: the same key `lambdapack key` prints, and the one a
// layer built from that lock is stored under.
// A lock from which nothing applies to t is refused here as the build
// would refuse it, so a preview never accepts what an update will reject.
func LayerKey(path string, t target.Target, o lock.Options) (string, error) {
	return LayerKeyOf(LayerOptions{Lock: path, Target: t, NoBytecode: o.NoBytecode})
}

// Layer builds the layer zip that opts describe and writes it to opts.Out.
func Layer(ctx context.Context, opts LayerOptions) (*Result, error) {
	if err := CheckOut(opts.Out); err != nil {
		return nil, err
	}
	if err := CheckOutNotInput(opts.Out, opts.Inputs()); err != nil {
		return nil, err
	}
	if err := CheckSBOMOut(opts.SBOM, opts.Out, opts.Inputs()); err != nil {
		return nil, err
	}
	sweepBesideOut(opts.Out)
	if opts.SBOM.Path != "" {
		sweepBesideOut(opts.SBOM.Path)
	}
	max := opts.MaxUnzipped
	if max == 0 {
		max = MaxUnzipped
	}
	if max < 0 || max > MaxUnzipped {
		return nil, fmt.Errorf("max unzipped size %d: want 1 to %d bytes (Lambda's limit)", max, MaxUnzipped)
	}
	l, err := readLock(opts.Lock, opts.Select, opts.Target, logTo(opts.Log))
	if err != nil {
		return nil, err
	}
	if err := useLockSources(&opts.Sources, l, opts.Out, opts.Inputs(), logTo(opts.Log)); err != nil {
		return nil, err
	}
	key := lock.Key(l, opts.Target, opts.KeyOptions())
	c, err := openCache(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	r := &resolver{
		lock:     l,
		target:   opts.Target,
		key:      key,
		cache:    c,
		sources:  &opts.Sources,
		jobs:     opts.Jobs,
		log:      logTo(opts.Log),
		progress: opts.Progress,
	}
	if r.jobs <= 0 {
		r.jobs = defaultJobs
	}
	placed, err := r.resolve(ctx)
	if err != nil {
		return nil, err
	}
	described, err := describe(placed)
	if err != nil {
		return nil, err
	}
	var (
		bundles []bundleFile
		reports []BytecodeReport
	)
	if !opts.NoBytecode {
		if bundles, reports, err = layerBytecode(ctx, &opts, c, placed, r.log); err != nil {
			return nil, err
		}
	}
	res, err := assemble(ctx, placed, bundles, opts.Out, max, r.log)
	if err != nil {
		return nil, err
	}
	res.Key = key
	res.Bytecode = reports
	if err := finishSBOM(res, opts.SBOM, "layer", opts.Out, opts.Target, described, nil); err != nil {
		return nil, err
	}
	return res, nil
}

// layerBytecode compiles the bytecode of every placed wheel for each
// runtime that imports it: a wheel in python/ for every runtime of the
// target (their .pyc files sit side by side, PEP 3147), a wheel in a
// runtime's site-packages for that runtime.
func layerBytecode(ctx context.Context, opts *LayerOptions, c *cache.Cache, placed []placement, log func(string, ...any)) ([]bundleFile, []BytecodeReport, error) {
	t := opts.Target.Canonical()
	cp, err := newCompiler(ctx, t.Runtimes, compileOptions{pythons: opts.Pythons, finder: opts.findInterpreter}, c, log)
	if err != nil {
		return nil, nil, err
	}
	defer cp.close()
	var units []planned
	for _, p := range placed {
		for _, rt := range t.Runtimes {
			if p.Path == "python/" || p.Path == rt.SitePackages()+"/" {
				units = append(units, wheelUnit(p, rt, p.Path, layerRoot+p.Path))
			}
		}
	}
	bundles, err := cp.compileUnits(units)
	if err != nil {
		return nil, nil, err
	}
	return bundles, cp.reports(), nil
}

func openCache(dir string) (*cache.Cache, error) {
	if dir == "" {
		d, err := cache.DefaultDir()
		if err != nil {
			return nil, fmt.Errorf("%w (pass --cache DIR)", err)
		}
		dir = d
	}
	return cache.Open(dir)
}

// logTo returns a printf-style logger writing lines to w, or discarding
// them when w is nil. It is safe for concurrent use whatever w is: the
// resolver logs from several goroutines.
func logTo(w io.Writer) func(format string, args ...any) {
	if w == nil {
		w = io.Discard
	}
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// removeQuietly removes a temporary file on a failure path, where the
// failure being reported matters more than a failed cleanup.
func removeQuietly(path string) { _ = os.Remove(path) }
