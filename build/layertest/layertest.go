// Package layertest checks a built Lambda layer the way Lambda will use it:
// it lays the zip out as Lambda does under /opt, then imports modules with a
// real interpreter that sees only the layer and the interpreter's own
// standard library, exactly as the layer's directories sit on sys.path in
// the Lambda Python runtime.
//
// The zip is not trusted: entries that would land outside the layer root
// (absolute paths, "..", backslashes) and symlinks are refused before
// anything is written or run. Nor is the interpreter, or what the layer
// runs at import: Run ends with its context, killing the interpreter with
// every process it started, and says what it was waiting for.
package layertest

import (
	"archive/zip"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/procgroup"
	"github.com/galerly/galerly-lambda/build/internal/regular"
	"github.com/galerly/galerly-lambda/build/target"
)

// Options says what Run tests.
type Options struct {
	Zip     string   // the layer zip; its root is Lambda's /opt
	Python  string   // the interpreter to import with, e.g. /root/.pyenv/versions/3.12.1/bin/python3.12
	Modules []string // modules to import, in order, e.g. "numpy", "PIL.Image"
	// Bytecode says when a module compiled from source at import fails
	// the test; the zero value is BytecodeIfShipped.
	Bytecode BytecodeRule
	// Stdout gets one line per imported module, tab-separated:
	//
	//	<module> ok <version> <distribution> <import time> <compiled>
	//
	// e.g. "numpy\tok\t2.1.3\tnumpy==2.1.3\t88.4ms\t0 compiled".
	// <version> is the module's __version__, else its distribution's,
	// else its top-level package's ("-" when unknown); <distribution> is
	// "NAME==VERSION" of the distribution that installed the module's
	// top-level package, per importlib.metadata ("-" when none did);
	// <import time> is milliseconds with one decimal and the unit, as
	// Go's time.ParseDuration reads it; <compiled> counts the layer's
	// modules compiled from source while importing it ("0 compiled" when
	// all had bytecode). A seventh field "(from the interpreter, not the
	// layer)" follows when the module was not found in the layer. The one
	// that failed gets "<module>\tFAILED".
	Stdout io.Writer
	// Stderr gets the traceback of a failed import and whatever the
	// interpreter and the imported modules print themselves.
	Stderr io.Writer
}

// BytecodeRule says whether a layer must spare its modules from being
// compiled at import.
type BytecodeRule int

const (
	// BytecodeIfShipped fails the test when a module is compiled from
	// source although the zip ships bytecode for the interpreter (some
	// python/.../__pycache__/NAME.<cache tag>.pyc, e.g. cpython-312):
	// a layer built with bytecode whose bytecode goes unused (missing for
	// some files, stale, built by another Python) is caught without being
	// told, and a layer built without it (--no-bytecode) still passes.
	BytecodeIfShipped BytecodeRule = iota
	// BytecodeRequired fails the test when any module of the layer is
	// compiled from source, whatever the zip holds: it also catches a
	// layer that silently shipped no bytecode at all.
	BytecodeRequired
	// BytecodeOptional never fails the test for compiling; the counts
	// are still printed.
	BytecodeOptional
)

// maxUnzipped is Lambda's limit on a function and its layers unzipped; a
// layer bigger than that cannot be deployed, so extraction stops there
// rather than filling the disk with a zip bomb.
const maxUnzipped = target.MaxUnzippedBytes

// waitDelay bounds how long Run waits, after the interpreter exits, for a
// process started by an imported module to let go of its output.
const waitDelay = 5 * time.Second

// fromInterpreter marks a module the layer does not provide.
const fromInterpreter = "(from the interpreter, not the layer)"

//go:embed bootstrap.py
var bootstrap string

// Run unzips opts.Zip into a fresh temporary /opt, imports each module
// with opts.Python and reports one line per module on opts.Stdout. On the
// first failing import it prints the traceback on opts.Stderr and returns
// an error naming the module. The temporary directory is removed.
func Run(ctx context.Context, opts Options) error {
	if opts.Zip == "" {
		return errors.New("layer test: no layer zip given")
	}
	if opts.Python == "" {
		return errors.New("layer test: no interpreter given")
	}
	if len(opts.Modules) == 0 {
		return errors.New("layer test: no module to import given")
	}
	for _, m := range opts.Modules {
		if err := CheckModule(m); err != nil {
			return fmt.Errorf("layer test: %w", err)
		}
	}
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}

	tmp, err := os.MkdirTemp("", "lambdapack-test-*")
	if err != nil {
		return fmt.Errorf("layer test: %w", err)
	}
	defer os.RemoveAll(tmp)
	opt := filepath.Join(tmp, "opt")
	if err := os.Mkdir(opt, 0o755); err != nil {
		return fmt.Errorf("layer test: %w", err)
	}
	entries, err := extract(ctx, opts.Zip, opt)
	if err != nil {
		return err
	}
	// Lambda mounts /opt read-only. The interpreter runs with -B, so it
	// never tries to write bytecode; the modes also stop a module that
	// writes beside itself, as Lambda would (except for root, who
	// ignores them).
	// Undone first, even after a half-done walk, so that the removal
	// above can empty the folders.
	defer setReadOnly(opt, false)
	if err := setReadOnly(opt, true); err != nil {
		return fmt.Errorf("layer test: %w", err)
	}

	// Only what the import needs, so nothing from the caller's
	// environment (PYTHONPATH, PYTHONHOME, a virtualenv) changes what is
	// found. PATH and LD_LIBRARY_PATH end with the layer's bin and lib
	// folders, as Lambda's do.
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:" + filepath.Join(opt, "bin"),
		"LD_LIBRARY_PATH=" + filepath.Join(opt, "lib"),
		"HOME=" + tmp,
		"LANG=C.UTF-8",
	}
	py, err := pythonVersion(ctx, opts.Python, tmp, env)
	if err != nil {
		return err
	}
	version := py.version

	// The Lambda Python runtime puts a layer's two folders first on
	// sys.path, after only the function's own /var/task: first
	// /opt/python/lib/python3.X/site-packages, then /opt/python. The AWS
	// documentation ("Layer paths for each Lambda runtime") names the two
	// folders; the order is the runtime bootstrap's, which inserts the
	// site-packages folder ahead of /opt/python. Like that bootstrap, this
	// adds them as plain sys.path entries (no site.addsitedir), so .pth
	// files in them are not processed.
	paths := []string{
		filepath.Join(opt, "python", "lib", "python"+version, "site-packages"),
		filepath.Join(opt, "python"),
	}
	s := session{opts: opts, version: version, cacheTag: py.cacheTag, shipsBytecode: shipsBytecode(entries, py.cacheTag),
		dir: tmp, opt: opt, paths: paths, env: env, stdout: stdout, stderr: stderr}
	return s.importAll(ctx)
}

// session is one Run's interpreter invocation.
type session struct {
	opts           Options
	version        string   // "3.12"
	cacheTag       string   // "cpython-312"
	shipsBytecode  bool     // the zip holds .pyc files for cacheTag
	dir, opt       string   // the working directory and the /opt stand-in inside it
	paths          []string // put on sys.path, in order
	env            []string
	stdout, stderr io.Writer
}

// CheckModule accepts dotted Python identifiers, e.g. PIL.Image, so no
// name given to import can be taken for an interpreter option or a
// relative import.
func CheckModule(m string) error {
	if !validModule(m) {
		return fmt.Errorf("%s is not a module name (want dotted identifiers, e.g. PIL.Image)", clip.Quote(m))
	}
	return nil
}

func validModule(m string) bool {
	for _, part := range strings.Split(m, ".") {
		if part == "" {
			return false
		}
		for i, r := range part {
			if !(r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
				return false
			}
		}
	}
	return true
}

var (
	versionRE  = regexp.MustCompile(`^3\.[0-9]+$`)
	cacheTagRE = regexp.MustCompile(`^[a-z]+-[0-9]+$`)
)

// interpreter is what Run needs to know of the interpreter.
type interpreter struct {
	version  string // "3.12": names the layer's version-specific site-packages folder
	cacheTag string // "cpython-312": names its bytecode files; "" when it writes none
}

// pythonVersion asks the interpreter for its major.minor and bytecode
// cache tag, within ctx.
func pythonVersion(ctx context.Context, python, dir string, env []string) (interpreter, error) {
	cmd := procgroup.Command(ctx, waitDelay, python, "-S", "-s", "-E", "-B", "-c",
		`import sys; print("%d.%d" % sys.version_info[:2], sys.implementation.cache_tag or "-")`)
	cmd.Dir, cmd.Env = dir, env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := procgroup.Run(cmd)
	if ctx.Err() != nil {
		return interpreter{}, fmt.Errorf("interpreter %s had not started when %v; it was killed with the processes it started", clip.String(python), ended(ctx))
	}
	if err != nil {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return interpreter{}, fmt.Errorf("interpreter %s: %w: %s", clip.String(python), err, clip.String(msg))
		}
		return interpreter{}, fmt.Errorf("interpreter %s: %w", clip.String(python), err)
	}
	v, tag, _ := strings.Cut(strings.TrimSpace(out.String()), " ")
	if !versionRE.MatchString(v) {
		return interpreter{}, fmt.Errorf("interpreter %s reports version %s, want Python 3", clip.String(python), clip.Quote(v))
	}
	if !cacheTagRE.MatchString(tag) {
		tag = "" // sys.implementation.cache_tag is None: no bytecode is ever read
	}
	return interpreter{version: v, cacheTag: tag}, nil
}

// ended says why ctx ended, for messages: its cause (the caller's
// deadline, "the --timeout of 2m0s ran out") or that it was cancelled.
func ended(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return cause.Error()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "the deadline passed"
	}
	return "the test was cancelled"
}

// shipsBytecode says whether the layer holds bytecode the interpreter
// would read: a PEP 3147 python/.../__pycache__/NAME.<tag>.pyc. Optimized
// (.opt-1) files do not count: Lambda runs without -O.
func shipsBytecode(entries []string, tag string) bool {
	if tag == "" {
		return false
	}
	suffix := "." + tag + ".pyc"
	for _, name := range entries {
		dir, file := path.Split(name)
		if strings.HasPrefix(name, "python/") && strings.HasSuffix(dir, "/__pycache__/") &&
			strings.HasSuffix(file, suffix) && !strings.Contains(strings.TrimSuffix(file, suffix), ".") {
			return true
		}
	}
	return false
}

// result is one line of the bootstrap's report.
type result struct {
	// Start, when set, says the bootstrap begins importing that module;
	// the other fields are then empty.
	Start     string     `json:"start"`
	Module    string     `json:"module"`
	OK        bool       `json:"ok"`
	Version   string     `json:"version"`
	Dist      string     `json:"dist"` // "numpy==2.1.3"; empty when no distribution installed it
	InLayer   bool       `json:"inLayer"`
	MS        float64    `json:"ms"`       // how long the import took
	Compiled  []compiled `json:"compiled"` // the layer's modules compiled from source while importing it
	Error     string     `json:"error"`
	Traceback string     `json:"traceback"`
}

// compiled is one module the interpreter compiled from source.
type compiled struct {
	Module string `json:"module"`
	Path   string `json:"path"` // as Lambda sees it: /opt/python/...
	PYC    bool   `json:"pyc"`  // a .pyc for it was there, but not used
}

// importAll runs the bootstrap. It reports on file descriptor 3, so that
// whatever the imported modules print cannot be mistaken for a result.
// When ctx ends first, the interpreter is killed with every process it
// started, and the error names the module it was importing.
func (s session) importAll(ctx context.Context) error {
	opts, stdout, stderr := s.opts, s.stdout, s.stderr
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("layer test: %w", err)
	}
	defer r.Close()
	args := append([]string{"-S", "-s", "-E", "-B", "-c", bootstrap, s.opt}, s.paths...)
	args = append(args, "--")
	args = append(args, opts.Modules...)
	cmd := procgroup.Command(ctx, waitDelay, opts.Python, args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.ExtraFiles = []*os.File{w}
	if err := procgroup.Start(cmd); err != nil {
		w.Close()
		return fmt.Errorf("interpreter %s: %w", clip.String(opts.Python), err)
	}
	w.Close()
	// The results pipe is closed when ctx ends, so the read below ends
	// too, whoever may still hold the pipe's other end.
	stopReading := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer stopReading()

	var failed *result
	var fromSource []compiled // by the modules that imported
	done := 0
	importing := "" // the module being imported, "" before the first and after each
	dec := json.NewDecoder(r)
	// Reads no more than one result per module: a process the imports
	// left behind could hold the pipe open and delay its end of file.
	for done < len(opts.Modules) {
		var res result
		if err := dec.Decode(&res); err != nil {
			break // the interpreter died, maybe mid-line: Wait tells how
		}
		if res.Start != "" {
			importing = res.Start
			continue
		}
		importing = ""
		if !res.OK {
			failed = &res
			break
		}
		done++
		fromSource = append(fromSource, res.Compiled...)
		line := fmt.Sprintf("%s\tok\t%s\t%s\t%.1fms\t%d compiled", res.Module, field(res.Version), field(res.Dist), res.MS, len(res.Compiled))
		if !res.InLayer {
			line += "\t" + fromInterpreter
		}
		fmt.Fprintln(stdout, line)
	}
	waitErr := cmd.Wait()
	if errors.Is(waitErr, exec.ErrWaitDelay) {
		waitErr = nil // the interpreter exited; only a leftover child held its output open
	}
	py := "python" + s.version
	if ctx.Err() != nil && failed == nil && done < len(opts.Modules) {
		what := "starting the interpreter, before the first import"
		if importing != "" {
			what = "importing " + importing
			fmt.Fprintf(stdout, "%s\tFAILED\n", importing)
		} else if done > 0 {
			what = "reading the version of " + opts.Modules[done-1] + " after its import"
		}
		return fmt.Errorf("layer %s: test with %s stopped while %s: %s; the interpreter was killed with the processes it started",
			opts.Zip, py, what, ended(ctx))
	}
	if failed != nil {
		fmt.Fprintf(stdout, "%s\tFAILED\n", failed.Module)
		fmt.Fprint(stderr, failed.Traceback)
		return fmt.Errorf("layer %s: import %s with %s failed: %s", opts.Zip, failed.Module, py, failed.Error)
	}
	if waitErr != nil || done < len(opts.Modules) {
		// The interpreter died without reporting, e.g. an extension
		// crashed it: blame the module it was importing.
		m := opts.Modules[min(done, len(opts.Modules)-1)]
		fmt.Fprintf(stdout, "%s\tFAILED\n", m)
		if waitErr == nil {
			waitErr = errors.New("exited without reporting a result")
		}
		return fmt.Errorf("layer %s: import %s with %s failed: interpreter %v", opts.Zip, m, py, waitErr)
	}
	return s.checkBytecode(fromSource)
}

// maxNamed bounds how many compiled modules an error names.
const maxNamed = 10

// checkBytecode fails the test when modules were compiled from source
// from a layer that is meant to spare them that.
func (s session) checkBytecode(fromSource []compiled) error {
	if len(fromSource) == 0 {
		return nil
	}
	var why string
	switch {
	case s.opts.Bytecode == BytecodeRequired:
		why = "bytecode was required (--expect-bytecode)"
		if !s.shipsBytecode {
			why += fmt.Sprintf(" and the layer holds none for %s (build it without --no-bytecode)", orNone(s.cacheTag))
		}
	case s.opts.Bytecode == BytecodeIfShipped && s.shipsBytecode:
		why = fmt.Sprintf("the layer ships bytecode for %s", s.cacheTag)
	default:
		return nil
	}
	var named []string
	for _, c := range fromSource[:min(len(fromSource), maxNamed)] {
		reason := "no .pyc for " + orNone(s.cacheTag)
		if c.PYC {
			reason = "its .pyc was not used: stale, or compiled by another Python"
		}
		named = append(named, fmt.Sprintf("%s (%s: %s)", c.Module, c.Path, reason))
	}
	if more := len(fromSource) - len(named); more > 0 {
		named = append(named, fmt.Sprintf("and %d more", more))
	}
	modules := "modules"
	if len(fromSource) == 1 {
		modules = "module"
	}
	return fmt.Errorf("layer %s: python%s compiled %d %s from source at import (on Lambda, at every cold start), although %s: %s",
		s.opts.Zip, s.version, len(fromSource), modules, why, strings.Join(named, ", "))
}

func orNone(tag string) string {
	if tag == "" {
		return "this interpreter (it has no cache tag)"
	}
	return tag
}

// field keeps a reported value on one tab-separated field.
func field(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

// extract unpacks the layer zip into opt and returns its entries' names.
// Every entry is checked before anything is written, so a refused zip
// leaves nothing behind.
func extract(ctx context.Context, zipPath, opt string) ([]string, error) {
	// --zip may name a FIFO or a device: refused unread.
	f, st, err := regular.Open(zipPath)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	defer f.Close()
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", zipPath, err)
	}
	var declared uint64
	var largest *zip.File
	names := make([]string, 0, len(zr.File))
	for _, f := range zr.File {
		if err := checkEntry(f); err != nil {
			return nil, fmt.Errorf("layer %s: entry %q refused: %w", zipPath, f.Name, err)
		}
		names = append(names, f.Name)
		declared += f.UncompressedSize64
		if largest == nil || f.UncompressedSize64 > largest.UncompressedSize64 {
			largest = f
		}
	}
	if declared > maxUnzipped {
		return nil, fmt.Errorf("layer %s: unzips to %d bytes, more than Lambda's limit of %d (largest entry %q, %d bytes)",
			zipPath, declared, maxUnzipped, largest.Name, largest.UncompressedSize64)
	}
	// os.Root confines every write to opt even if a check above missed a
	// trick; the checks are there to say precisely what is wrong.
	root, err := os.OpenRoot(opt)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", zipPath, err)
	}
	defer root.Close()
	budget := int64(maxUnzipped)
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("layer %s: unzipping stopped: %s", zipPath, ended(ctx))
		}
		if err := extractEntry(root, f, &budget); err != nil {
			return nil, fmt.Errorf("layer %s: entry %q: %w", zipPath, f.Name, err)
		}
	}
	return names, nil
}

// setReadOnly takes the write bits off everything under dir (on), or
// gives the folders theirs back (off) so that the tree can be removed.
func setReadOnly(dir string, on bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode().Perm()
		switch {
		case on:
			mode &^= 0o222
		case d.IsDir():
			mode |= 0o700
		default:
			return nil
		}
		return os.Chmod(p, mode)
	})
}

// checkEntry refuses names that would not land inside the layer root and
// anything that is not a plain file or directory.
func checkEntry(f *zip.File) error {
	name := f.Name
	switch {
	case name == "":
		return errors.New("empty name")
	case strings.Contains(name, `\`):
		return errors.New("backslash in path")
	case strings.HasPrefix(name, "/"):
		return errors.New("absolute path")
	}
	for _, part := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		if part == ".." {
			return errors.New(`".." would escape the layer root`)
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(strings.TrimSuffix(name, "/"))) {
		return errors.New("not a path inside the layer root")
	}
	mode := f.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return errors.New("symlink (Lambda layers are plain files; a link could point outside /opt)")
	case mode.IsDir() || mode.IsRegular():
		return nil
	}
	return fmt.Errorf("not a regular file or directory (mode %v)", mode)
}

func extractEntry(root *os.Root, f *zip.File, budget *int64) error {
	name := strings.TrimSuffix(f.Name, "/")
	if f.Mode().IsDir() || strings.HasSuffix(f.Name, "/") {
		return root.MkdirAll(name, 0o755)
	}
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	// The executable bit survives (scripts in bin/, some .so loaders
	// check it); nothing else from the zip's mode is trusted.
	perm := fs.FileMode(0o644)
	if f.Mode()&0o111 != 0 {
		perm = 0o755
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errors.New("appears twice in the zip, or clashes with a folder")
		}
		return err
	}
	n, err := io.Copy(out, io.LimitReader(rc, *budget+1))
	*budget -= n
	if err == nil && *budget < 0 {
		err = fmt.Errorf("layer unzips to more than Lambda's limit of %d bytes", maxUnzipped)
	}
	if err == nil {
		err = out.Chmod(perm) // the umask must not drop the executable bit
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
