// Package layertest checks a built Lambda layer the way Lambda will use it:
// it lays the zip out as Lambda does under /opt, then imports modules with a
// real interpreter that sees only the layer and the interpreter's own
// standard library, exactly as the layer's directories sit on sys.path in
// the Lambda Python runtime.
//
// The zip is not trusted: entries that would land outside the layer root
// (absolute paths, "..", backslashes) and symlinks are refused before
// anything is written or run.
package layertest

import (
	"archive/zip"
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

	"github.com/galerly/galerly-lambda/build/target"
)

// Options says what Run tests.
type Options struct {
	Zip     string   // the layer zip; its root is Lambda's /opt
	Python  string   // the interpreter to import with, e.g. /root/.pyenv/versions/3.12.1/bin/python3.12
	Modules []string // modules to import, in order, e.g. "numpy", "PIL.Image"
	// Stdout gets one line per imported module:
	// "<module>\tok\t<version>" (version "-" when unknown), with a fourth
	// field "(from the interpreter, not the layer)" when the module was not
	// found in the layer, or "<module>\tFAILED" for the one that failed.
	Stdout io.Writer
	// Stderr gets the traceback of a failed import and whatever the
	// interpreter and the imported modules print themselves.
	Stderr io.Writer
}

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
		if !validModule(m) {
			return fmt.Errorf("layer test: %q is not a module name (want dotted identifiers, e.g. PIL.Image)", m)
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
	if err := extract(opts.Zip, opt); err != nil {
		return err
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
	version, err := pythonVersion(ctx, opts.Python, tmp, env)
	if err != nil {
		return err
	}

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
	s := session{opts: opts, version: version, dir: tmp, opt: opt, paths: paths, env: env, stdout: stdout, stderr: stderr}
	return s.importAll(ctx)
}

// session is one Run's interpreter invocation.
type session struct {
	opts           Options
	version        string   // "3.12"
	dir, opt       string   // the working directory and the /opt stand-in inside it
	paths          []string // put on sys.path, in order
	env            []string
	stdout, stderr io.Writer
}

// validModule accepts dotted Python identifiers, so no name can be taken
// for an interpreter option or a relative import.
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

var versionRE = regexp.MustCompile(`^3\.[0-9]+$`)

// pythonVersion asks the interpreter for its major.minor, which names the
// layer's version-specific site-packages folder.
func pythonVersion(ctx context.Context, python, dir string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, python, "-S", "-s", "-E", "-B", "-c", `import sys; print("%d.%d" % sys.version_info[:2])`)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return "", fmt.Errorf("interpreter %s: %w: %s", python, err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("interpreter %s: %w", python, err)
	}
	v := strings.TrimSpace(string(out))
	if !versionRE.MatchString(v) {
		return "", fmt.Errorf("interpreter %s reports version %q, want Python 3", python, v)
	}
	return v, nil
}

// result is one line of the bootstrap's report.
type result struct {
	Module    string `json:"module"`
	OK        bool   `json:"ok"`
	Version   string `json:"version"`
	InLayer   bool   `json:"inLayer"`
	Error     string `json:"error"`
	Traceback string `json:"traceback"`
}

// importAll runs the bootstrap. It reports on file descriptor 3, so that
// whatever the imported modules print cannot be mistaken for a result.
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
	cmd := exec.CommandContext(ctx, opts.Python, args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("interpreter %s: %w", opts.Python, err)
	}
	w.Close()

	var failed *result
	done := 0
	dec := json.NewDecoder(r)
	// Reads no more than one result per module: a process the imports
	// left behind could hold the pipe open and delay its end of file.
	for done < len(opts.Modules) {
		var res result
		if err := dec.Decode(&res); err != nil {
			break // the interpreter died, maybe mid-line: Wait tells how
		}
		if !res.OK {
			failed = &res
			break
		}
		done++
		line := res.Module + "\tok\t" + field(res.Version)
		if !res.InLayer {
			line += "\t" + fromInterpreter
		}
		fmt.Fprintln(stdout, line)
	}
	waitErr := cmd.Wait()
	if errors.Is(waitErr, exec.ErrWaitDelay) {
		waitErr = nil // the interpreter exited; only a leftover child held its output open
	}
	if ctx.Err() != nil {
		return fmt.Errorf("layer test %s: %w", opts.Zip, ctx.Err())
	}
	py := "python" + s.version
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
	return nil
}

// field keeps a reported value on one tab-separated field.
func field(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

// extract unpacks the layer zip into opt. Every entry is checked before
// anything is written, so a refused zip leaves nothing behind.
func extract(zipPath, opt string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("layer %s: %w", zipPath, err)
	}
	defer zr.Close()
	var declared uint64
	var largest *zip.File
	for _, f := range zr.File {
		if err := checkEntry(f); err != nil {
			return fmt.Errorf("layer %s: entry %q refused: %w", zipPath, f.Name, err)
		}
		declared += f.UncompressedSize64
		if largest == nil || f.UncompressedSize64 > largest.UncompressedSize64 {
			largest = f
		}
	}
	if declared > maxUnzipped {
		return fmt.Errorf("layer %s: unzips to %d bytes, more than Lambda's limit of %d (largest entry %q, %d bytes)",
			zipPath, declared, maxUnzipped, largest.Name, largest.UncompressedSize64)
	}
	// os.Root confines every write to opt even if a check above missed a
	// trick; the checks are there to say precisely what is wrong.
	root, err := os.OpenRoot(opt)
	if err != nil {
		return fmt.Errorf("layer %s: %w", zipPath, err)
	}
	defer root.Close()
	budget := int64(maxUnzipped)
	for _, f := range zr.File {
		if err := extractEntry(root, f, &budget); err != nil {
			return fmt.Errorf("layer %s: entry %q: %w", zipPath, f.Name, err)
		}
	}
	return nil
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
