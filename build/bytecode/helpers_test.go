package bytecode

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// testMinors are the versions the machine image provides (pyenv 3.9.18 to
// 3.13.0); each test runs once per version it finds, and skips (fails under
// CI=true) the ones it does not.
var testMinors = []int{9, 10, 11, 12, 13}

// interpreter finds the real CPython 3.minor through the --python path, so
// that the test uses exactly the binary testenv found.
func interpreter(t testing.TB, minor int) *Interpreter {
	t.Helper()
	rt := target.Runtime{Minor: minor}
	path := testenv.FindPython(t, rt.Version())
	in, err := Find(context.Background(), rt, map[target.Runtime]string{rt: path})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// source is one module to compile: its bytes and the path Lambda will
// see it at.
type source struct {
	runPath string
	data    []byte
}

// stdlibSources returns the top-level modules of in's own standard
// library (Lib/*.py), as if shipped at /opt/python.
func stdlibSources(t testing.TB, in *Interpreter) []source {
	t.Helper()
	lib := filepath.Join(filepath.Dir(filepath.Dir(in.Path)), "lib", "python"+in.Runtime.Version())
	names, err := filepath.Glob(filepath.Join(lib, "*.py"))
	if err != nil || len(names) < 100 {
		t.Fatalf("standard library of %s at %s: %d modules, %v", in, lib, len(names), err)
	}
	sort.Strings(names)
	var out []source
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, source{runPath: "/opt/python/" + filepath.Base(n), data: b})
	}
	return out
}

// pipWheel returns the pip wheel that pyenv's 3.12 bundles for ensurepip:
// hundreds of real modules, pure Python, for 3.7 and later.
func pipWheel(t testing.TB) string {
	t.Helper()
	py := testenv.FindPython(t, "3.12")
	whls, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(py)), "lib", "python3.12", "ensurepip", "_bundled", "pip-*.whl"))
	if len(whls) == 0 {
		testenv.SkipOrFail(t, "no pip wheel bundled with %s", py)
	}
	return whls[0]
}

// pipSources returns every module of the pip wheel, as if shipped at
// /opt/python.
func pipSources(t testing.TB) []source {
	t.Helper()
	zr, err := zip.OpenReader(pipWheel(t))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out []source
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".py") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, source{runPath: "/opt/python/" + f.Name, data: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].runPath < out[j].runPath })
	if len(out) < 300 {
		t.Fatalf("pip wheel has only %d modules", len(out))
	}
	return out
}

// startCompiler starts a Compiler that the test closes, checking that it
// exits cleanly.
func startCompiler(t testing.TB, in *Interpreter) *Compiler {
	t.Helper()
	c, err := Start(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// compileAll compiles srcs in the given order and returns the results by
// index in srcs (nil where skipped).
func compileAll(t testing.TB, c *Compiler, srcs []source, order []int) [][]byte {
	t.Helper()
	out := make([][]byte, len(srcs))
	for _, i := range order {
		pyc, _, err := c.Compile(srcs[i].runPath, srcs[i].data)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = pyc
	}
	return out
}

// runPython runs script with in, isolated like the compiler, and returns
// its standard output; a failure ends the test with the interpreter's
// stderr.
func runPython(t testing.TB, in *Interpreter, env []string, script string, args ...string) string {
	t.Helper()
	// -B and a folder of its own: nothing the script imports or writes
	// lands in the source tree.
	cmd := exec.Command(in.Path, append([]string{"-S", "-B", "-c", script}, args...)...)
	cmd.Env = append([]string{"PYTHONHASHSEED=0"}, env...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", in, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func ascending(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}
