package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/galerly/galerly-lambda/build/bytecode"
	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
)

// errHelp is returned when -h was asked for and usage was printed.
var errHelp = errors.New("help")

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

// Set appends one value.
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage to w.
func newFlagSet(name, args string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: lambdapack %s %s\n\nflags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into usage errors. The flag
// package has already printed the problem and the usage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usagef("%v", err)
	}
	return nil
}

// parseNoArgs is parse for a command that takes flags only: an argument
// left over is a usage error, quoted clipped like every value echoed.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %s", clip.Quote(fs.Arg(0)))
	}
	return nil
}

// targetFlags are the --runtime and --arch flags every command shares.
type targetFlags struct {
	runtimes stringList
	arch     string
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.Var(&t.runtimes, "runtime", "Lambda runtime, e.g. python3.12 (repeat for a layer shared by several runtimes)")
	fs.StringVar(&t.arch, "arch", "", "architecture: x86_64 or arm64")
}

// target validates the flags into a Target.
func (t *targetFlags) target() (target.Target, error) {
	if len(t.runtimes) == 0 {
		return target.Target{}, usagef("--runtime is required (one of %s)", strings.Join(target.SupportedRuntimes(), ", "))
	}
	if t.arch == "" {
		return target.Target{}, usagef("--arch is required (x86_64 or arm64)")
	}
	tg, err := target.New(t.runtimes, t.arch)
	if err != nil {
		return target.Target{}, usagef("%v", err)
	}
	return tg, nil
}

// sourceFlags say where wheels come from and where they are cached.
type sourceFlags struct {
	indexURL  string
	extra     stringList
	findLinks stringList
	noIndex   bool
	cacheDir  string
	netrc     string
}

func (s *sourceFlags) register(fs *flag.FlagSet) {
	// No default here: an index flag given on the command line wins over
	// the lock's index lines, so "not given" must be told from PyPI.
	fs.StringVar(&s.indexURL, "index-url", "", "simple index (PEP 691 JSON or PEP 503 HTML; default: the lock's --index-url line, else "+index.DefaultIndexURL+"); credentials in the URL or ~/.netrc")
	fs.Var(&s.extra, "extra-index-url", "another index searched after --index-url (repeatable); any index flag replaces the lock's index lines")
	fs.Var(&s.findLinks, "find-links", "a local folder of wheels to use as well (repeatable); replaces the lock's --find-links lines")
	fs.BoolVar(&s.noIndex, "no-index", false, "use no index, only --find-links folders")
	fs.StringVar(&s.cacheDir, "cache", "", "wheel cache folder (default: the user cache dir's lambdapack/)")
	fs.StringVar(&s.netrc, "netrc", "", "netrc file with index credentials (default: $NETRC or ~/.netrc)")
}

// sources returns the index.Sources the flags describe.
func (s *sourceFlags) sources() (index.Sources, error) {
	if s.noIndex && len(s.findLinks) == 0 {
		return index.Sources{}, usagef("--no-index needs at least one --find-links folder")
	}
	for _, fl := range s.findLinks {
		if strings.HasPrefix(fl, "http://") || strings.HasPrefix(fl, "https://") || strings.HasPrefix(fl, "file://") {
			continue
		}
		if st, err := os.Stat(fl); err != nil || !st.IsDir() {
			return index.Sources{}, usagef("--find-links %s: no such folder", fl)
		}
	}
	for _, u := range append([]string{s.indexURL}, s.extra...) {
		if u == "" {
			continue // --index-url not given: the lock's, or PyPI
		}
		if err := index.CheckIndexURL(u); err != nil {
			return index.Sources{}, usagef("%v", err)
		}
	}
	return index.Sources{
		IndexURL:       s.indexURL,
		ExtraIndexURLs: s.extra,
		FindLinks:      s.findLinks,
		NoIndex:        s.noIndex,
		NetrcPath:      s.netrc,
		UserAgent:      "lambdapack",
	}, nil
}

// bytecodeFlags say whether and with which interpreters bytecode is
// compiled: --no-bytecode and --python 3.X=PATH.
type bytecodeFlags struct {
	off     bool
	pythons stringList
}

func (b *bytecodeFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&b.off, "no-bytecode", false, "ship no .pyc files (every cold start then compiles every module it imports); changes the key")
	fs.Var(&b.pythons, "python", "`3.X=PATH`: the interpreter that compiles python3.X's bytecode (repeatable; default: python3.X on PATH, then pyenv, then uv)")
}

// interpreters validates the --python flags.
func (b *bytecodeFlags) interpreters() (map[target.Runtime]string, error) {
	m, err := bytecode.ParsePythonFlags(b.pythons)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if b.off && len(m) > 0 {
		return nil, usagef("--python and --no-bytecode: no bytecode is compiled, so no interpreter is used")
	}
	return m, nil
}

// defaultTimeout is --timeout's default: far above a cold build of the
// production layer on a CI runner (about a minute), far below a CI job's
// own limit, so a hung connection fails the job with a reason.
const defaultTimeout = 10 * time.Minute

// timeoutFlag is --timeout, which bounds a command that does network work.
type timeoutFlag struct{ d time.Duration }

func (t *timeoutFlag) register(fs *flag.FlagSet) {
	fs.DurationVar(&t.d, "timeout", defaultTimeout, "fail after `DURATION` (e.g. 10m, 90s) if the command is not done: this bounds everything it waits for "+
		"(index pages, downloads, S3 and Lambda requests and their retries, the interpreters it probes and compiles with); the error names what was being waited for")
}

// timeoutCause is why a command's context ended at its deadline; errors
// that name it say what set the deadline.
type timeoutCause struct{ d time.Duration }

func (c *timeoutCause) Error() string { return fmt.Sprintf("the --timeout of %v ran out", c.d) }

// bound returns ctx bounded by the flag, with a cause naming it.
func (t *timeoutFlag) bound(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if t.d <= 0 {
		return nil, nil, usagef("--timeout %v: want a positive duration, such as 10m or 90s", t.d)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, t.d, &timeoutCause{t.d})
	return ctx, cancel, nil
}

// explainTimeout makes an error the deadline of ctx caused say so, and why
// there was a deadline, when it does not already: the index and the AWS
// errors name what timed out, a build interrupted between requests does
// not.
func explainTimeout(ctx context.Context, err error) error {
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	cause := context.Cause(ctx)
	switch msg := err.Error(); {
	case strings.Contains(msg, cause.Error()):
		return err
	case strings.Contains(msg, "timed out"):
		return fmt.Errorf("%w (%v)", err, cause)
	}
	return fmt.Errorf("timed out (%v): %w", cause, err)
}

// syncWriter serializes writes: notes about slow requests come from the
// goroutines that send them, beside the build's own notes.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// artifactFlags are the flags layer and function share besides where
// wheels come from: the lock's extras and groups, bytecode, --upload and
// --timeout.
type artifactFlags struct {
	sel      selectFlags
	bytecode bytecodeFlags
	upload   uploadFlag
	timeout  timeoutFlag
	sbom     sbomFlags
}

func (a *artifactFlags) register(fs *flag.FlagSet) {
	a.bytecode.register(fs)
	a.sel.register(fs)
	a.upload.register(fs)
	a.timeout.register(fs)
	a.sbom.register(fs)
}

// buildSettings are what artifactFlags set in a build's options.
type buildSettings struct {
	sel        lock.Selection
	pythons    map[target.Runtime]string
	noBytecode bool
}

// settings validates the flags for a build from the lock at lockPath for
// t.
func (a *artifactFlags) settings(lockPath string, t target.Target) (buildSettings, error) {
	sel, err := a.sel.selection(lockPath)
	if err != nil {
		return buildSettings{}, err
	}
	pythons, err := a.bytecode.interpreters()
	if err != nil {
		return buildSettings{}, err
	}
	for rt, path := range pythons {
		if !slices.Contains(t.Runtimes, rt) {
			return buildSettings{}, usagef("--python %s=%s: the build is for %s, not %s", rt.Version(), path, t, rt)
		}
	}
	return buildSettings{sel: sel, pythons: pythons, noBytecode: a.bytecode.off}, nil
}

// start bounds ctx by --timeout and returns the log the build and its
// sources write notes to.
func (a *artifactFlags) start(ctx context.Context, e *env) (context.Context, context.CancelFunc, *syncWriter, error) {
	ctx, cancel, err := a.timeout.bound(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return ctx, cancel, &syncWriter{w: e.stderr}, nil
}
