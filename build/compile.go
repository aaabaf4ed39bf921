package build

import (
	"archive/zip"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/galerly/galerly-lambda/build/bytecode"
	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/pack"
	"github.com/galerly/galerly-lambda/build/source"
	"github.com/galerly/galerly-lambda/build/target"
)

// bytecodeFormat is the first line of a bytecode unit's key. Change it
// whenever the bundles built from the same sources change.
const bytecodeFormat = "lambdapack bytecode v2"

// Lambda's read-only mounts: a layer's folders are under /opt, a function
// package is unzipped in /var/task. Code objects name these paths, so
// tracebacks in CloudWatch name real files.
const (
	layerRoot    = "/opt/"
	functionRoot = "/var/task/"
)

// compileJobs is how many sources are in flight to one interpreter
// process at a time: enough that it never waits for the next while Go
// reads a wheel and rewrites the last answer.
const compileJobs = 4

// maxSkipsListed is how many sources that do not compile a note names.
const maxSkipsListed = 3

// BytecodeReport says, for one runtime, which interpreter compiled the
// bytecode an artifact holds and how many sources it compiled.
type BytecodeReport struct {
	Runtime string `json:"runtime"`
	// Interpreter is the full version of the CPython that compiled the
	// bytecode, e.g. "3.12.1": bytecode can differ between patch
	// releases, so a byte-identical rebuild needs the same one.
	Interpreter string `json:"interpreter"`
	Magic       uint16 `json:"magic"`
	// Compiled counts the sources that have a .pyc for the runtime;
	// Skipped those that do not compile under it (they ship as source,
	// as pip leaves them).
	Compiled int `json:"compiled"`
	Skipped  int `json:"skipped"`
}

// compileOptions says how to find the interpreters.
type compileOptions struct {
	// pythons are interpreters given by the user (--python 3.X=PATH).
	pythons map[target.Runtime]string
	finder  interpreterFinder
}

// interpreterFinder finds the interpreter of a runtime within ctx, as
// bytecode.Finder.Find does.
type interpreterFinder func(ctx context.Context, rt target.Runtime, explicit map[target.Runtime]string) (*bytecode.Interpreter, error)

// compiler makes the bytecode of an artifact, unit by unit (a wheel in one
// folder for one runtime, or a function's code), each unit's .pyc files
// going into one zip in the cache (a bundle) that the assembly copies
// still compressed, like a wheel's entries. A bundle is named by a sealed
// record keyed by what decides its bytes (the unit's sources, its run-time
// folder, the interpreter's version), so a warm build compiles nothing.
type compiler struct {
	ctx    context.Context
	cache  *cache.Cache
	interp map[target.Runtime]*bytecode.Interpreter
	log    func(string, ...any)

	// perRuntime is how many interpreter processes compile one runtime's
	// bytecode: one each when there are at least as many runtimes as
	// cores (they compile in parallel), more when there are fewer, so a
	// one-runtime build uses the machine's cores too.
	perRuntime int

	// inFlight bounds the source bytes read and not yet written to a
	// bundle, over all units: rewriting a .pyc canonically takes about 50
	// times its source's size, so this (not the number of sources) is
	// what bounds the builder's memory while compiling.
	inFlight *semaphore.Weighted

	mu      sync.Mutex
	running map[target.Runtime][]*bytecode.Compiler
	stats   map[target.Runtime]*BytecodeReport
}

// inFlightBytes is the source bytes compiling at once: one source of
// bytecode.MaxSourceBytes, or many small ones.
const inFlightBytes = bytecode.MaxSourceBytes

// smallestWeight is what a source counts for in inFlightBytes however
// small it is: the builder's own cost of a request.
const smallestWeight = 4 << 10

// newCompiler finds and checks an interpreter for each runtime, in
// parallel and within ctx. A runtime with none is an error that says how
// to get one.
func newCompiler(ctx context.Context, runtimes []target.Runtime, o compileOptions, c *cache.Cache, log func(string, ...any)) (*compiler, error) {
	find := o.finder
	if find == nil {
		find = bytecode.Finder{Note: log}.Find
	}
	found := make([]*bytecode.Interpreter, len(runtimes))
	errs := make([]error, len(runtimes))
	var wg sync.WaitGroup
	for i, rt := range runtimes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i], errs[i] = find(ctx, rt, o.pythons)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cp := &compiler{
		ctx:     ctx,
		cache:   c,
		interp:  map[target.Runtime]*bytecode.Interpreter{},
		log:     log,
		running: map[target.Runtime][]*bytecode.Compiler{},
		stats:   map[target.Runtime]*BytecodeReport{},
		// Compiling is CPU-bound in the interpreter; Go's part (reading
		// wheels, rewriting marshal data, deflating) fits between.
		perRuntime: max(1, min(4, runtime.NumCPU()/len(runtimes))),
		inFlight:   semaphore.NewWeighted(inFlightBytes),
	}
	for i, rt := range runtimes {
		in := found[i]
		cp.interp[rt] = in
		cp.stats[rt] = &BytecodeReport{Runtime: rt.String(), Interpreter: in.Version, Magic: in.Magic}
	}
	return cp, nil
}

// close stops the interpreter processes started.
func (cp *compiler) close() {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, procs := range cp.running {
		for _, c := range procs {
			c.Close()
		}
	}
	clear(cp.running)
}

// reports returns the per-runtime report, oldest runtime first.
func (cp *compiler) reports() []BytecodeReport {
	runtimes := slices.SortedFunc(maps.Keys(cp.stats), func(a, b target.Runtime) int { return a.Minor - b.Minor })
	out := make([]BytecodeReport, 0, len(runtimes))
	for _, rt := range runtimes {
		out = append(out, *cp.stats[rt])
	}
	return out
}

// processes returns the running compilers for rt, starting them on first
// use: a warm build, whose bundles are all in the cache, starts none. Each
// process is long-lived and streamed sources; their answers do not depend
// on which process gave them (bytecode.Canonicalize), so spreading sources
// over several changes no byte.
func (cp *compiler) processes(rt target.Runtime) ([]*bytecode.Compiler, error) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if procs := cp.running[rt]; procs != nil {
		return procs, nil
	}
	// Compiling takes seconds per wheel: say what is happening, once.
	cp.log("compiling %s bytecode with %s (%s)", rt, cp.interp[rt], cp.interp[rt].Found)
	procs := make([]*bytecode.Compiler, cp.perRuntime)
	errs := make([]error, cp.perRuntime)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i], errs[i] = bytecode.Start(cp.ctx, cp.interp[rt])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range procs {
			if c != nil {
				c.Close()
			}
		}
		return nil, err
	}
	cp.running[rt] = procs
	return procs, nil
}

// pySource is one Python file of a unit: its path under the unit's folder,
// its size, and a way to read it (at most limit bytes: a file that turns
// out larger gives what it read, limit+1 bytes or fewer).
type pySource struct {
	path string
	size int64
	read func(limit int64) ([]byte, error)
	// blocked, when set, says why the source cannot have bytecode
	// whatever it holds.
	blocked string
}

// blockedByFile is why a source gets no bytecode when its folder holds a
// file named __pycache__: pip installs that file as it is, and then
// cannot write the .pyc files under it either.
const blockedByFile = "its folder holds a file named __pycache__, where its bytecode would go (pip installs it so, without bytecode)"

// blockPycacheFiles marks the sources whose folder holds a file (not a
// folder) named __pycache__, among all the unit's paths.
func blockPycacheFiles(srcs []pySource, paths []string) {
	files := map[string]bool{}
	for _, p := range paths {
		if path.Base(p) == "__pycache__" {
			files[path.Dir(p)] = true
		}
	}
	if len(files) == 0 {
		return
	}
	for i := range srcs {
		if files[path.Dir(srcs[i].path)] {
			srcs[i].blocked = blockedByFile
		}
	}
}

// unit is a set of sources compiled for one runtime under one run-time
// folder: a wheel placed in one folder, or a function's code.
type unit struct {
	label string // for messages: "numpy 2.1.3", "the function's code"
	rt    target.Runtime
	root  string // run-time folder of the sources, e.g. "/opt/python/"
	id    string // the sources' identity: "wheel SHA256", or one line per file
	// sources lists the unit's sources; done releases what reading them
	// holds open.
	sources func() (srcs []pySource, done func(), err error)
}

// bundleRecord is the sealed record of one compiled unit.
type bundleRecord struct {
	Bundle   string   `json:"bundle"` // sha256 of the bundle zip in the cache
	Compiled int      `json:"compiled"`
	Skipped  []string `json:"skipped,omitempty"` // "path: reason"
}

// key is the unit's cache key: everything the bundle's bytes depend on.
func (cp *compiler) key(u unit) string {
	in := cp.interp[u.rt]
	text := fmt.Sprintf("%s\ninterpreter %s %s magic %d\nruntime %s\nroot %s\n%s\n",
		bytecodeFormat, in.CacheTag, in.Version, in.Magic, u.rt, u.root, u.id)
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// bundle returns the cache file of the unit's bundle, compiling it when
// the cache has no sealed record of it.
func (cp *compiler) bundle(u unit) (string, error) {
	name := "bytecode-" + cp.key(u) + ".json"
	if rec, path, ok := cp.fromCache(name); ok {
		cp.count(u, rec)
		return path, nil
	}
	rec, path, err := cp.compile(u)
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(rec)
	if err == nil {
		err = cp.cache.WriteSealed(name, data)
	}
	if err != nil {
		cp.log("note: could not record %s's bytecode in the cache: %v", u.label, err)
	}
	cp.count(u, rec)
	return path, nil
}

// fromCache returns a unit's bundle from its sealed record, if the record
// verifies and the bundle it names is in the cache with its hash.
func (cp *compiler) fromCache(name string) (bundleRecord, string, bool) {
	var rec bundleRecord
	data, ok, err := cp.cache.ReadSealed(name)
	if errors.Is(err, cache.ErrSeal) {
		cp.log("note: %v; compiling again", err)
	}
	if !ok || json.Unmarshal(data, &rec) != nil {
		return rec, "", false
	}
	path, ok, err := cp.cache.Get(rec.Bundle)
	if err != nil || !ok {
		return rec, "", false
	}
	return rec, path, true
}

// count adds a unit's numbers to its runtime's report and notes the
// sources that did not compile.
func (cp *compiler) count(u unit, rec bundleRecord) {
	cp.mu.Lock()
	s := cp.stats[u.rt]
	s.Compiled += rec.Compiled
	s.Skipped += len(rec.Skipped)
	cp.mu.Unlock()
	if n := len(rec.Skipped); n > 0 {
		shown := rec.Skipped[:min(n, maxSkipsListed)]
		more := ""
		if n > len(shown) {
			more = fmt.Sprintf("; and %d more", n-len(shown))
		}
		cp.log("note: %s: %d %s no %s bytecode and %s as source, as pip leaves what it cannot compile: %s%s",
			u.label, n, plural(n, "file gets", "files get"), u.rt, plural(n, "ships", "ship"), strings.Join(shown, "; "), more)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// compile compiles every source of u and stores the bundle of .pyc files.
// The .pyc files are written to the bundle in its order as they are done,
// so what is held in memory at once is bounded by cp.inFlight, however
// large the unit. A source over bytecode.MaxSourceBytes is not read: it
// ships without bytecode, as one that does not compile does.
func (cp *compiler) compile(u unit) (bundleRecord, string, error) {
	srcs, done, err := u.sources()
	if err != nil {
		return bundleRecord{}, "", fmt.Errorf("%s: %w", u.label, err)
	}
	defer done()
	var rec bundleRecord
	if len(srcs) == 0 {
		// Still a bundle, so the record says the unit was done.
		sum, path, err := cp.cache.Store(func(w io.Writer) error { return zip.NewWriter(w).Close() })
		rec.Bundle = sum
		return rec, path, err
	}
	procs, err := cp.processes(u.rt)
	if err != nil {
		return bundleRecord{}, "", err
	}
	names := make([]string, len(srcs))
	for i, s := range srcs {
		names[i] = bytecode.PycName(s.path, u.rt)
	}
	order := make([]int, len(srcs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })

	type result struct {
		pyc     []byte
		skipped string
		err     error
		weight  int64 // its share of cp.inFlight, until released
		done    chan struct{}
	}
	results := make([]result, len(srcs))
	for i := range results {
		results[i].done = make(chan struct{})
	}
	uctx, stop := context.WithCancel(cp.ctx)
	defer stop()
	g, gctx := errgroup.WithContext(uctx)
	g.SetLimit(compileJobs * len(procs))
	compileOne := func(n, i int) (err error) {
		s, r := srcs[i], &results[i]
		defer func() { r.err = err; close(r.done) }()
		if err := gctx.Err(); err != nil {
			return err
		}
		if s.blocked != "" {
			r.skipped = s.blocked
			return nil
		}
		if s.size > bytecode.MaxSourceBytes {
			r.skipped = bytecode.TooLargeReason(s.size)
			return nil
		}
		// One that grew since it was listed is read to one byte past the
		// bound, and Compile skips it as it does any source over it.
		data, err := s.read(bytecode.MaxSourceBytes)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", u.label, clip.String(s.path), err)
		}
		r.pyc, r.skipped, err = procs[n%len(procs)].Compile(u.root+s.path, data)
		return err
	}
	// Sources are dispatched in bundle order, each holding its share of
	// the in-flight budget until its .pyc is written. The source at the
	// head of the order always holds its share (those before it have
	// released theirs), so the writer below always progresses.
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for n, i := range order {
			w := min(max(srcs[i].size, smallestWeight), inFlightBytes)
			if err := cp.inFlight.Acquire(gctx, w); err != nil {
				return
			}
			results[i].weight = w
			g.Go(func() error { return compileOne(n, i) })
		}
	}()
	var compileErr error
	sum, path, err := cp.cache.Store(func(w io.Writer) error {
		zw := zip.NewWriter(w)
		for _, i := range order {
			r := &results[i]
			select {
			case <-r.done:
			case <-gctx.Done():
			}
			if gctx.Err() != nil {
				// A source failed, or the build is cancelled: the group's
				// error, below, says which.
				compileErr = context.Cause(gctx)
				return compileErr
			}
			if r.err != nil {
				compileErr = r.err
				return compileErr
			}
			if r.pyc == nil {
				rec.Skipped = append(rec.Skipped, srcs[i].path+": "+r.skipped)
			} else {
				fw, err := zw.CreateHeader(&zip.FileHeader{Name: names[i], Method: zip.Deflate})
				if err == nil {
					_, err = fw.Write(r.pyc)
				}
				if err != nil {
					return err
				}
				rec.Compiled++
			}
			r.pyc = nil
			cp.inFlight.Release(r.weight)
			r.weight = 0
		}
		return zw.Close()
	})
	// What was dispatched and not written holds budget that other units
	// need: give it back once nothing of this unit runs.
	stop()
	<-dispatched
	gerr := g.Wait()
	for i := range results {
		if results[i].weight > 0 {
			cp.inFlight.Release(results[i].weight)
		}
	}
	if compileErr != nil {
		return bundleRecord{}, "", cmp.Or(gerr, compileErr)
	}
	if err != nil {
		return bundleRecord{}, "", fmt.Errorf("%s: storing its bytecode: %w", u.label, err)
	}
	rec.Bundle = sum
	return rec, path, nil
}

// wheelSources lists the Python sources a wheel installs (where AddWheel
// places them), each read from the wheel when asked; done closes it.
func wheelSources(file string) func() ([]pySource, func(), error) {
	return func() ([]pySource, func(), error) {
		zr, err := zip.OpenReader(file)
		if err != nil {
			return nil, nil, err
		}
		var out []pySource
		var paths []string
		for _, f := range zr.File {
			target, err := pack.WheelEntryPath(f)
			if err != nil || target == "" {
				continue
			}
			paths = append(paths, target)
			if !bytecode.IsSource(target) {
				continue
			}
			out = append(out, pySource{path: target, size: int64(f.UncompressedSize64), read: func(limit int64) ([]byte, error) {
				rc, err := f.Open()
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				return io.ReadAll(io.LimitReader(rc, limit+1))
			}})
		}
		blockPycacheFiles(out, paths)
		return out, func() { zr.Close() }, nil
	}
}

// treeSources lists the Python files of a function's code.
func treeSources(tree *source.Tree) func() ([]pySource, func(), error) {
	return func() ([]pySource, func(), error) {
		var out []pySource
		paths := make([]string, 0, len(tree.Files))
		for _, f := range tree.Files {
			paths = append(paths, f.Path)
			if !bytecode.IsSource(f.Path) {
				continue
			}
			out = append(out, pySource{path: f.Path, size: f.Size, read: func(limit int64) ([]byte, error) {
				rc, err := f.Open()
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				return io.ReadAll(io.LimitReader(rc, limit+1))
			}})
		}
		blockPycacheFiles(out, paths)
		return out, func() {}, nil
	}
}

// treeID is the identity of a function's code for its bytecode unit: each
// source's path and sha256, sorted.
func treeID(tree *source.Tree) string {
	var lines []string
	for _, f := range tree.Files {
		if bytecode.IsSource(f.Path) {
			lines = append(lines, f.SHA256+" "+f.Path)
		}
	}
	slices.Sort(lines)
	return "files\n" + strings.Join(lines, "\n")
}

// bundleFile is a compiled unit ready for assembly: its bundle in the
// cache, and the folder of the artifact its files go under.
type bundleFile struct {
	name   string // unique in the artifact: "<wheel> bytecode for python3.12"
	label  string // the package it belongs to, for size messages; "" for none
	file   string
	prefix string
}

// wheelUnit is the bytecode of the placed wheel p for rt, installed under
// prefix in the artifact, which is root at run time.
func wheelUnit(p placement, rt target.Runtime, prefix, root string) planned {
	return planned{
		unit: unit{
			label:   p.Name + " " + p.Version,
			rt:      rt,
			root:    root,
			id:      "wheel " + p.SHA256,
			sources: wheelSources(p.file),
		},
		prefix:    prefix,
		name:      p.Wheel + " bytecode for " + rt.String(),
		sizeLabel: p.Name + " " + p.Version,
	}
}

// planned is a unit and where its bundle goes in the artifact.
type planned struct {
	unit
	prefix string // the folder of the artifact the bundle's files go under
	name   string // the bundle's source name, unique in the artifact
	// sizeLabel is the package its size counts for in messages; "" for
	// the function's own code, whose files are listed one by one.
	sizeLabel string
}

// compileUnits compiles (or takes from the cache) every unit, each
// runtime's in parallel with the others', and returns their bundles in
// order.
func (cp *compiler) compileUnits(units []planned) ([]bundleFile, error) {
	out := make([]bundleFile, len(units))
	byRuntime := map[target.Runtime][]int{}
	for i, u := range units {
		byRuntime[u.rt] = append(byRuntime[u.rt], i)
	}
	g, _ := errgroup.WithContext(cp.ctx)
	for _, idx := range byRuntime {
		g.Go(func() error {
			for _, i := range idx {
				if err := cp.ctx.Err(); err != nil {
					return err
				}
				u := units[i]
				file, err := cp.bundle(u.unit)
				if err != nil {
					return err
				}
				out[i] = bundleFile{name: u.name, label: u.sizeLabel, file: file, prefix: u.prefix}
			}
			return nil
		})
	}
	return out, g.Wait()
}
