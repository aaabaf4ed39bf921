package bytecode

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// importScript imports modules from a read-only tree the way the Lambda
// runtime does (PYTHONDONTWRITEBYTECODE stands in for the read-only
// mount) and reports how many were compiled from source, which code
// objects importlib had to rename to their file's path, and what a
// traceback names.
const importScript = `
import sys, json, traceback, _imp
import importlib._bootstrap_external as ext
root = sys.argv[1]
compiled = []
to_code = ext.SourceLoader.source_to_code
def counting(self, data, path, *args, **kwargs):
    compiled.append(path)
    return to_code(self, data, path, *args, **kwargs)
ext.SourceLoader.source_to_code = counting
renamed = []
fix = _imp._fix_co_filename
def fixing(code, path):
    if code.co_filename != path:
        renamed.append([code.co_filename, path])
    return fix(code, path)
_imp._fix_co_filename = fixing
sys.path.insert(0, root)
import app, app.sub.deep, app.plain, app.moved
import pip._internal.cli.main, pip._vendor.rich.console, pip._vendor.packaging.version
try:
    app.boom()
except ValueError as e:
    tb = traceback.extract_tb(e.__traceback__)[-1]
loaded = [m for m in sys.modules.values() if (getattr(m, '__file__', None) or '').startswith(root)]
print(json.dumps({
    'compiled': compiled, 'renamed': renamed, 'value': app.VALUE,
    'tbFile': tb.filename, 'tbLine': tb.lineno, 'tbText': tb.line,
    'deep': app.sub.deep.K().m(), 'loaded': len(loaded),
}))
`

// The point of the package: modules shipped with their .pyc import from a
// read-only tree without compiling anything, the unchecked-hash .pyc is
// believed without reading the source, and tracebacks name the run-time
// path.
func TestCompiledModulesImportWithoutCompiling(t *testing.T) {
	pip := pipSources(t)
	pipData := wheelData(t, pipWheel(t)) // certifi's cacert.pem and the like
	app := map[string]string{
		"app/__init__.py":     "from .util import boom\nVALUE = 1\n",
		"app/util.py":         "# the line below raises\ndef boom():\n    raise ValueError('boom')\n",
		"app/sub/__init__.py": "",
		"app/sub/deep.py":     "class K:\n    def m(self):\n        return [x * 2 for x in range(3)]\n",
	}
	for _, minor := range testMinors {
		t.Run(fmt.Sprintf("3.%d", minor), func(t *testing.T) {
			t.Parallel()
			in := interpreter(t, minor)
			c := startCompiler(t, in)
			// The tree stands where the test runs it, as a layer stands at
			// /opt/python: the run-time path of each module is its path here.
			root := filepath.Join(t.TempDir(), "opt", "python")
			var putAt func(rel, runPath string, data []byte)
			put := func(rel string, data []byte) {
				putAt(rel, filepath.ToSlash(filepath.Join(root, rel)), data)
			}
			putAt = func(rel, runPath string, data []byte) {
				pyc, skipped, err := c.Compile(runPath, data)
				if err != nil {
					t.Fatal(err)
				}
				if skipped != "" {
					t.Fatalf("%s skipped: %s", rel, skipped)
				}
				writeTree(t, filepath.Join(root, rel), data)
				writeTree(t, filepath.Join(root, filepath.FromSlash(PycName(rel, in.Runtime))), pyc)
			}
			for rel, src := range app {
				put(rel, []byte(src))
			}
			for _, s := range pip {
				put(strings.TrimPrefix(s.runPath, "/opt/python/"), s.data)
			}
			// Controls, so that a hook that saw nothing cannot pass: a
			// module shipped without bytecode is compiled at import, and
			// one compiled for another path is renamed by importlib.
			writeTree(t, filepath.Join(root, "app", "plain.py"), []byte("X = 1\n"))
			putAt("app/moved.py", "/opt/python/app/moved.py", []byte("Y = 1\n"))
			for name, data := range pipData {
				writeTree(t, filepath.Join(root, filepath.FromSlash(name)), data)
			}
			// An unchecked .pyc is used even when the source beside it
			// changed: the artifact cannot change without its key.
			writeTree(t, filepath.Join(root, "app", "__init__.py"), []byte("from .util import boom\nVALUE = 2\n"))
			readOnly(t, root)

			out := runPython(t, in, []string{"PYTHONDONTWRITEBYTECODE=1"}, importScript, root)
			var got struct {
				Compiled []string
				Renamed  [][2]string
				Value    int
				TBFile   string
				TBLine   int
				TBText   string
				Deep     []int
				Loaded   int
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			plain := filepath.Join(root, "app", "plain.py")
			if len(got.Compiled) != 1 || got.Compiled[0] != plain {
				t.Errorf("compiled from source at import: %v, want only the module shipped without bytecode, %s", got.Compiled, plain)
			}
			moved := [2]string{"/opt/python/app/moved.py", filepath.ToSlash(filepath.Join(root, "app", "moved.py"))}
			if len(got.Renamed) != 1 || got.Renamed[0] != moved {
				t.Errorf("importlib renamed code objects %v, want only the one compiled for another path, %v (the others' .pyc name their path)", got.Renamed, moved)
			}
			if got.Loaded < 100 {
				t.Errorf("only %d modules imported from the tree", got.Loaded)
			}
			if got.Value != 1 {
				t.Errorf("app.VALUE = %d, want 1 from the unchecked .pyc (the source now says 2)", got.Value)
			}
			wantFile := filepath.ToSlash(filepath.Join(root, "app", "util.py"))
			if got.TBFile != wantFile || got.TBLine != 3 || got.TBText != "raise ValueError('boom')" {
				t.Errorf("traceback names %s line %d %q, want %s line 3", got.TBFile, got.TBLine, got.TBText, wantFile)
			}
			if fmt.Sprint(got.Deep) != "[0 2 4]" {
				t.Errorf("app.sub.deep.K().m() = %v", got.Deep)
			}
			t.Logf("%s: %d modules imported, 0 compiled", in, got.Loaded)
		})
	}
}

func writeTree(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readOnly makes the tree read-only, as Lambda mounts /opt, and writable
// again when the test ends so that it can be removed.
func readOnly(t testing.TB, root string) {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		return os.Chmod(p, 0o444)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if err := os.Chmod(d, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			os.Chmod(d, 0o755)
		}
	})
}

// wheelData returns the files of a wheel that are not modules.
func wheelData(t testing.TB, whl string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(whl)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string][]byte{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".py") || strings.HasSuffix(f.Name, "/") {
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
		out[f.Name] = b
	}
	return out
}
