package build

import (
	"archive/zip"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/pack"
	"github.com/galerly/galerly-lambda/build/sbom"
	"github.com/galerly/galerly-lambda/build/source"
	"github.com/galerly/galerly-lambda/build/target"
)

// codeKeyFormat is the first line of the code key's canonical text. Change
// it whenever the function package built from the same files and lock
// changes, so that every function is rebuilt.
const codeKeyFormat = "lambdapack code key v2"

// FunctionOptions says what function package to build and where to look
// for its dependencies' wheels.
type FunctionOptions struct {
	Src    string        // the function's source folder
	Lock   string        // its dependencies' hashed lock; "" for none
	Target target.Target // exactly one runtime, and the architecture
	Out    string        // path of the zip to write
	// Select chooses a pylock.toml's extras and dependency groups; the
	// zero value is its default install.
	Select lock.Selection

	// Filter adds exclude and include patterns to the default excludes.
	Filter source.Filter
	// LayerUnzipped holds the unzipped size of each layer the function
	// uses: they count against Lambda's limit with the package, and there
	// may be at most target.MaxLayers of them.
	LayerUnzipped []int64

	Sources  index.Sources // where wheels come from
	CacheDir string        // "" for cache.DefaultDir()
	// Jobs bounds parallel index queries and downloads; 8 if zero.
	Jobs int
	// NoBytecode leaves out the .pyc files compiled for the runtime.
	NoBytecode bool
	// Pythons are the interpreters to compile bytecode with, as for
	// LayerOptions.
	Pythons map[target.Runtime]string

	// findInterpreter replaces bytecode.Finder.Find in tests.
	findInterpreter interpreterFinder

	// Progress receives a live download line when it is a terminal.
	Progress io.Writer
	// Log receives warnings (secrets in the source folder) and notes;
	// nothing if nil.
	Log io.Writer

	// SBOM says how the package's SBOM is written.
	SBOM SBOMOptions
}

// Inputs are the files and folders the build reads.
func (opts *FunctionOptions) Inputs() Inputs {
	return Inputs{Lock: opts.Lock, FindLinks: opts.Sources.FindLinks, Src: opts.Src, Cache: opts.CacheDir}
}

// KeyOptions are the options of opts that are part of the code key.
func (opts *FunctionOptions) KeyOptions() lock.Options {
	return lock.Options{NoBytecode: opts.NoBytecode}
}

// CodeCanonical returns the text the code key hashes: the key format, the
// target, the build options, one line per file that ships (sorted by path:
// its mode, content sha256 and path), then the key of the dependencies'
// lock for the target and options when there is one (lock.Key):
//
//	lambdapack code key v2
//	target python3.11/x86_64
//	bytecode on
//	0644 9f2c...e1 api.py
//	0755 41d0...7a bin/bootstrap
//	0644 03ab...90 handlers/__init__.py
//	lock 5be1...c2
//
// Nothing about where or when the files were written (the folder's path,
// mtimes, owners, the umask beyond the exec bit) is in the text, so two
// machines with the same checkout compute the same key.
func CodeCanonical(tree *source.Tree, lockKey string, t target.Target, o lock.Options) string {
	var b strings.Builder
	b.WriteString(codeKeyFormat + "\n")
	b.WriteString("target " + t.Canonical().String() + "\n")
	b.WriteString(o.Line() + "\n")
	files := slices.Clone(tree.Files)
	slices.SortFunc(files, func(a, b source.File) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range files {
		fmt.Fprintf(&b, "%04o %s %s\n", f.Mode.Perm(), f.SHA256, f.Path)
	}
	if lockKey != "" {
		b.WriteString("lock " + lockKey + "\n")
	}
	return b.String()
}

// CodeKeyOf returns the code key of a walked tree and a lock key ("" for
// no lock): the lowercase hex sha256 of CodeCanonical.
func CodeKeyOf(tree *source.Tree, lockKey string, t target.Target, o lock.Options) string {
	sum := sha256.Sum256([]byte(CodeCanonical(tree, lockKey, t, o)))
	return hex.EncodeToString(sum[:])
}

// CodeKey computes the code key of the function whose source folder is src
// and whose dependencies' lock is lockPath ("" for none), for t (one
// runtime), under the filter f, built with o: the key `lambdapack function`
// reports for the same arguments. It reads only the source folder and the lock, with
// no network, so a preview can compute it; it refuses what the build would
// refuse of them (a source folder that packs nothing, a symlink that would
// ship, a bad lock or pattern).
func CodeKey(src, lockPath string, t target.Target, f source.Filter, o lock.Options) (string, error) {
	if err := oneRuntime(t); err != nil {
		return "", err
	}
	tree, err := source.Walk(src, f)
	if err != nil {
		return "", err
	}
	lockKey, err := lockKeyOf(lockPath, lock.Selection{}, t, o)
	if err != nil {
		return "", err
	}
	return CodeKeyOf(tree, lockKey, t, o), nil
}

// FunctionKey is the code key of the package opts describe, after the
// checks a build makes before it reads a wheel (one runtime, an --out it
// can write outside the source folder, the source folder, the lock), and
// the warnings about the source folder a build would log. It is how
// `lambdapack function --upload` finds a stored package without building;
// when it skips the build it prints the warnings itself, so skipping the
// build hides nothing the user should hear.
func FunctionKey(opts FunctionOptions) (key string, warnings []string, err error) {
	tree, err := prepareFunction(opts)
	if err != nil {
		return "", nil, err
	}
	lockKey, err := lockKeyOf(opts.Lock, opts.Select, opts.Target, opts.KeyOptions())
	if err != nil {
		return "", nil, err
	}
	return CodeKeyOf(tree, lockKey, opts.Target.Canonical(), opts.KeyOptions()), tree.Warnings, nil
}

// prepareFunction makes the checks that come before any build work and
// walks the source folder.
func prepareFunction(opts FunctionOptions) (*source.Tree, error) {
	if err := oneRuntime(opts.Target); err != nil {
		return nil, err
	}
	if err := CheckOut(opts.Out); err != nil {
		return nil, err
	}
	if err := CheckOutNotInput(opts.Out, opts.Inputs()); err != nil {
		return nil, err
	}
	if err := CheckSBOMOut(opts.SBOM, opts.Out, opts.Inputs()); err != nil {
		return nil, err
	}
	if err := CheckCacheNotInSrc(opts.CacheDir, opts.Src); err != nil {
		return nil, err
	}
	return source.Walk(opts.Src, opts.Filter)
}

// lockKeyOf is the key of the lock at path with sel for t and o, or ""
// when there is no lock.
func lockKeyOf(path string, sel lock.Selection, t target.Target, o lock.Options) (string, error) {
	if path == "" {
		return "", nil
	}
	l, err := readLock(path, sel, t, nil)
	if err != nil {
		return "", err
	}
	return lock.Key(l, t.Canonical(), o), nil
}

// oneRuntime refuses a target that is not exactly one runtime: a function
// runs on one.
func oneRuntime(t target.Target) error {
	if n := len(t.Canonical().Runtimes); n != 1 {
		return fmt.Errorf("a function runs on exactly one runtime; the target %s has %d", t, n)
	}
	return nil
}

// Function builds the function package that opts describe: the files of
// the source folder that ship, with the dependencies of the lock installed
// at the zip's root beside them, and writes it to opts.Out. The result's
// key is the code key.
func Function(ctx context.Context, opts FunctionOptions) (*Result, error) {
	log := logTo(opts.Log)
	layers, err := layersSize(opts.LayerUnzipped)
	if err != nil {
		return nil, err
	}
	tree, err := prepareFunction(opts)
	if err != nil {
		return nil, err
	}
	sweepBesideOut(opts.Out)
	if opts.SBOM.Path != "" {
		sweepBesideOut(opts.SBOM.Path)
	}
	for _, w := range tree.Warnings {
		log("warning: %s", w)
	}
	t := opts.Target.Canonical()
	// The code alone may already be too big: say so before downloading.
	if tree.Size()+layers > MaxUnzipped {
		return nil, overLimit(tree.Size(), opts.LayerUnzipped, largestIn(tree, nil, nil))
	}

	var (
		lockKey string
		placed  []placement
		c       *cache.Cache
	)
	if opts.Lock != "" || !opts.NoBytecode {
		if c, err = openCache(opts.CacheDir); err != nil {
			return nil, err
		}
	}
	if opts.Lock != "" {
		l, err := readLock(opts.Lock, opts.Select, t, log)
		if err != nil {
			return nil, err
		}
		if err := useLockSources(&opts.Sources, l, opts.Out, opts.Inputs(), log); err != nil {
			return nil, err
		}
		lockKey = lock.Key(l, t, opts.KeyOptions())
		if len(l.For(t)) == 0 {
			log("note: lock %s: no requirement applies to %s; the package holds the code alone", l.File, t)
		} else if placed, err = resolveFunctionDeps(ctx, c, l, t, lockKey, &opts, log); err != nil {
			return nil, err
		}
	}
	key := CodeKeyOf(tree, lockKey, t, opts.KeyOptions())
	described, err := describe(placed)
	if err != nil {
		return nil, err
	}

	var (
		bundles []bundleFile
		reports []BytecodeReport
	)
	if !opts.NoBytecode {
		if bundles, reports, err = functionBytecode(ctx, &opts, c, tree, placed, log); err != nil {
			return nil, err
		}
	}
	a, closeAll, err := planFunction(tree, placed, bundles)
	defer closeAll()
	if err != nil {
		return nil, err
	}
	for _, n := range a.Notes() {
		log("note: %s", n)
	}
	labels := sourceLabels(placed, bundles)
	if a.UnzippedSize()+layers > MaxUnzipped {
		return nil, overLimit(a.UnzippedSize(), opts.LayerUnzipped, largestIn(tree, a.Sizes(), labels))
	}
	sum, n, err := writeAtomic(ctx, opts.Out, a)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Key:           key,
		SHA256:        sum,
		ZipBytes:      n,
		UnzippedBytes: a.UnzippedSize(),
		BytecodeBytes: bytecodeBytes(a.Sizes(), bundles),
		Files:         a.Files(),
		Packages:      []Package{},
		Bytecode:      reports,
	}
	for _, p := range placed {
		res.Packages = append(res.Packages, Package{Name: p.Name, Version: p.Version, Wheel: p.Wheel, SHA256: p.SHA256, Path: ""})
	}
	code := &sbom.Code{Name: codeName(opts.Src), Key: key, Files: len(tree.Files)}
	if err := finishSBOM(res, opts.SBOM, "function", opts.Out, t, described, code); err != nil {
		return nil, err
	}
	return res, nil
}

// codeName names the function's code in its SBOM: the source folder's
// name as given ("app" for --src app or ./app/), never a path, which
// would differ between machines.
func codeName(src string) string {
	name := filepath.Base(filepath.Clean(src))
	if name == "." || name == ".." || name == string(filepath.Separator) {
		return "function code"
	}
	return name
}

// functionBytecode compiles the bytecode of the function's code and of its
// dependencies for its runtime, with /var/task/ paths.
func functionBytecode(ctx context.Context, opts *FunctionOptions, c *cache.Cache, tree *source.Tree, placed []placement, log func(string, ...any)) ([]bundleFile, []BytecodeReport, error) {
	rt := opts.Target.Canonical().Runtimes[0]
	cp, err := newCompiler(ctx, []target.Runtime{rt}, compileOptions{pythons: opts.Pythons, finder: opts.findInterpreter}, c, log)
	if err != nil {
		return nil, nil, err
	}
	defer cp.close()
	units := []planned{{
		unit: unit{label: "the function's code", rt: rt, root: functionRoot, id: treeID(tree), sources: treeSources(tree)},
		name: "bytecode of the function's code",
	}}
	for _, p := range placed {
		units = append(units, wheelUnit(p, rt, "", functionRoot))
	}
	bundles, err := cp.compileUnits(units)
	if err != nil {
		return nil, nil, err
	}
	return bundles, cp.reports(), nil
}

// resolveFunctionDeps resolves and fetches the lock's wheels for the
// function's one runtime, sharing the layer's cache records: a lock built
// as a layer for the same runtime resolves to the same wheels.
func resolveFunctionDeps(ctx context.Context, c *cache.Cache, l *lock.Lock, t target.Target, key string, opts *FunctionOptions, log func(string, ...any)) ([]placement, error) {
	r := &resolver{
		lock:     l,
		target:   t,
		key:      key,
		cache:    c,
		sources:  &opts.Sources,
		jobs:     cmp.Or(opts.Jobs, defaultJobs),
		log:      log,
		progress: opts.Progress,
	}
	if r.jobs < 0 {
		r.jobs = defaultJobs
	}
	return r.resolve(ctx)
}

// planFunction plans the zip: the source files, then every wheel at the
// root, then the bytecode bundles. A path that the code and a dependency
// both write is an error even when the bytes are equal: one would
// silently shadow the other. The returned func closes the wheels and
// bundles, once the zip is written.
func planFunction(tree *source.Tree, placed []placement, bundles []bundleFile) (*pack.Archive, func(), error) {
	var opened []*zip.ReadCloser
	closeBundles := func() {}
	closeAll := func() {
		for _, zr := range opened {
			zr.Close()
		}
		closeBundles()
	}
	a := pack.New()
	for _, f := range tree.Files {
		if err := a.AddFile(f.Path, f.Mode, f.Size, f.Open); err != nil {
			return nil, closeAll, fmt.Errorf("source folder %s: %w", tree.Root, err)
		}
	}
	slices.SortFunc(placed, func(a, b placement) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Wheel, b.Wheel))
	})
	for _, p := range placed {
		zr, err := zip.OpenReader(p.file)
		if err != nil {
			return nil, closeAll, fmt.Errorf("wheel %s (%s %s): not a readable zip: %w", p.Wheel, p.Name, p.Version, err)
		}
		opened = append(opened, zr)
		if err := a.AddWheel(p.Wheel, &zr.Reader, ""); err != nil {
			return nil, closeAll, fmt.Errorf("%s %s beside the code of %s: %w", p.Name, p.Version, tree.Root, err)
		}
	}
	for _, f := range tree.Files {
		if w := a.Writers(f.Path); len(w) > 1 {
			return nil, closeAll, fmt.Errorf("%s is written by both the function's code and a dependency: %s (identical bytes, but one would shadow the other; remove the file from %s or the package from the lock)",
				f.Path, strings.Join(w, " and "), tree.Root)
		}
	}
	var err error
	if closeBundles, err = addBundles(a, bundles); err != nil {
		return nil, closeAll, err
	}
	return a, closeAll, nil
}

// FunctionFits reports whether a function package of unzipped bytes fits
// Lambda's limits beside layers of the given unzipped sizes: at most
// target.MaxLayers layers, and MaxUnzipped bytes for the package and its
// layers together. Function checks the same before writing; this is for a
// caller holding only a report (a stored artifact's), which names no files.
func FunctionFits(unzipped int64, layers []int64) error {
	sum, err := layersSize(layers)
	if err != nil {
		return err
	}
	if unzipped+sum > MaxUnzipped {
		return overLimit(unzipped, layers, "")
	}
	return nil
}

// layersSize checks the layer sizes given and returns their sum.
func layersSize(sizes []int64) (int64, error) {
	if len(sizes) > target.MaxLayers {
		return 0, fmt.Errorf("%d layers given: Lambda allows at most %d layers per function", len(sizes), target.MaxLayers)
	}
	var sum int64
	for i, n := range sizes {
		if n < 0 || n > MaxUnzipped {
			return 0, fmt.Errorf("layer %d: unzipped size %d: want 0 to %d bytes", i+1, n, MaxUnzipped)
		}
		sum += n
	}
	return sum, nil
}

// overLimit is the error for a function whose package and layers together
// are over Lambda's unzipped limit, naming every size and the largest parts
// of the package.
func overLimit(fn int64, layers []int64, largest string) error {
	total := fn
	var parts []string
	for i, n := range layers {
		total += n
		parts = append(parts, fmt.Sprintf("layer %d %s", i+1, bytesText(n)))
	}
	with := ""
	if len(parts) > 0 {
		with = " + " + strings.Join(parts, " + ")
	}
	if largest != "" {
		largest = "; largest in the package: " + largest
	}
	return fmt.Errorf("function package %s%s = %s unzipped, over Lambda's limit of %s for a function and all its layers%s",
		bytesText(fn), with, bytesText(total), bytesText(MaxUnzipped), largest)
}

// largestIn names the largest source files and dependencies of a package,
// with their sizes. sizes and placed are nil before dependencies are
// planned.
func largestIn(tree *source.Tree, sizes map[string]int64, labels map[string]string) string {
	all := packageSizes(sizes, labels, "package ")
	for _, f := range tree.Files {
		all = append(all, sized{"file " + f.Path, f.Size})
	}
	return largest(all)
}
