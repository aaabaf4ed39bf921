package layertest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// bcpkg is a package of three modules, installed by the distribution
// bc-pkg 3.1, whose own __version__ says something else: both are printed.
var bcpkg = []file{
	{name: "python/bcpkg/__init__.py", body: "from . import a, b\n__version__ = '3.1.dev0'\n"},
	{name: "python/bcpkg/a.py", body: "A = 1\n"},
	{name: "python/bcpkg/b.py", body: "B = 2\n"},
	{name: "python/bc_pkg-3.1.dist-info/METADATA", body: "Metadata-Version: 2.1\nName: bc-pkg\nVersion: 3.1\n"},
	{name: "python/bc_pkg-3.1.dist-info/RECORD", body: "bcpkg/__init__.py,,\nbcpkg/a.py,,\nbcpkg/b.py,,\nbc_pkg-3.1.dist-info/METADATA,,\n"},
}

// compileScript is run by the real interpreter: py_compile each source
// (argv: the source folder, the invalidation mode, then zip paths) to its
// PEP 3147 place, with the /opt path Lambda will load it from as the
// code's filename, and print the .pyc paths as JSON.
const compileScript = `
import importlib.util, json, os, py_compile, sys
root, mode, names = sys.argv[1], sys.argv[2], sys.argv[3:]
out = []
for name in names:
    cfile = importlib.util.cache_from_source(name)
    py_compile.compile(os.path.join(root, name), cfile=os.path.join(root, cfile), dfile="/opt/" + name,
                       doraise=True, invalidation_mode=py_compile.PycInvalidationMode[mode])
    out.append(cfile)
print(json.dumps(out))
`

// withBytecode returns files plus a .pyc compiled by python for each of
// the named sources (all .py files when none are named), made as a layer
// with bytecode ships them: mode "UNCHECKED_HASH". Mode "TIMESTAMP" makes
// the .pyc a zip with fixed dates ships, whose recorded source mtime
// (1980) no extracted file will have.
func withBytecode(t *testing.T, python, mode string, files []file, only ...string) []file {
	t.Helper()
	root := t.TempDir()
	var names []string
	for _, f := range files {
		if !strings.HasSuffix(f.name, ".py") || (len(only) > 0 && !slices.Contains(only, f.name)) {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), 0o644); err != nil {
			t.Fatal(err)
		}
		zipDate := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := os.Chtimes(p, zipDate, zipDate); err != nil {
			t.Fatal(err)
		}
		names = append(names, f.name)
	}
	cmd := exec.Command(python, append([]string{"-I", "-c", compileScript, root, mode}, names...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("py_compile with %s: %v\n%s", python, err, stderrOf(err))
	}
	var pycs []string
	if err := json.Unmarshal(out, &pycs); err != nil || len(pycs) != len(names) {
		t.Fatalf("py_compile printed %q (%v), want %d paths", out, err, len(names))
	}
	all := slices.Clone(files)
	for _, pyc := range pycs {
		body, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(pyc)))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, file{name: pyc, body: string(body)})
	}
	return all
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// A layer's bytecode is used when it is there and valid for the
// interpreter: nothing is compiled at import. Without it every module is
// compiled from source, as at each Lambda cold start; that is counted,
// and is no failure for a layer built without bytecode.
func TestCompiledFromSourceCounted(t *testing.T) {
	for _, minor := range []string{"3.11", "3.12", "3.13"} {
		t.Run(minor, func(t *testing.T) {
			t.Parallel()
			python := testenv.FindPython(t, minor)
			source := layer(t, bcpkg...)
			compiled := layer(t, withBytecode(t, python, "UNCHECKED_HASH", bcpkg)...)
			for _, tc := range []struct {
				name, zip string
				rule      BytecodeRule
				want      string
			}{
				{"source only", source, BytecodeIfShipped, "3 compiled"},
				{"source only, bytecode optional", source, BytecodeOptional, "3 compiled"},
				{"with bytecode", compiled, BytecodeIfShipped, "0 compiled"},
				{"with bytecode, required", compiled, BytecodeRequired, "0 compiled"},
			} {
				stdout, stderr, err := runWith(t, Options{Zip: tc.zip, Python: python, Modules: []string{"bcpkg", "bcpkg.a"}, Bytecode: tc.rule})
				if err != nil {
					t.Errorf("%s: %v\n%s", tc.name, err, stderr)
				}
				// bcpkg.a came with bcpkg: importing it again compiles nothing. It has
				// no __version__ of its own, so its distribution's is its version.
				want := lines("bcpkg\tok\t3.1.dev0\tbc-pkg==3.1\tMS\t"+tc.want, "bcpkg.a\tok\t3.1\tbc-pkg==3.1\tMS\t0 compiled")
				if stdout != want {
					t.Errorf("%s: stdout:\n%s\nwant:\n%s", tc.name, stdout, want)
				}
			}
		})
	}
}

// A layer meant to have bytecode whose modules are still compiled at
// import fails the test, naming each module, its /opt path and why; the
// lines of the imports are printed all the same.
func TestUnusedBytecodeFailsTheTest(t *testing.T) {
	t.Parallel()
	py311, py312 := testenv.FindPython(t, "3.11"), testenv.FindPython(t, "3.12")
	partial := withBytecode(t, py312, "UNCHECKED_HASH", bcpkg, "python/bcpkg/__init__.py", "python/bcpkg/a.py")
	stale := withBytecode(t, py312, "TIMESTAMP", bcpkg)
	other := withBytecode(t, py311, "UNCHECKED_HASH", bcpkg)
	for _, tc := range []struct {
		name     string
		files    []file
		rule     BytecodeRule
		compiled string
		errors   []string // nil: the test passes
	}{
		{"one module without its .pyc", partial, BytecodeIfShipped, "1 compiled",
			[]string{"python3.12 compiled 1 module from source at import (on Lambda, at every cold start), although", "the layer ships bytecode for cpython-312", "bcpkg.b (/opt/python/bcpkg/b.py: no .pyc for cpython-312)"}},
		{"one module without its .pyc, bytecode optional", partial, BytecodeOptional, "1 compiled", nil},
		{"timestamp .pyc with the zip's fixed date", stale, BytecodeIfShipped, "3 compiled",
			[]string{"compiled 3 modules", "bcpkg (/opt/python/bcpkg/__init__.py: its .pyc was not used: stale, or compiled by another Python)", "bcpkg.a (/opt/python/bcpkg/a.py: its .pyc was not used"}},
		{"no bytecode, required", bcpkg, BytecodeRequired, "3 compiled",
			[]string{"bytecode was required (--expect-bytecode) and the layer holds none for cpython-312", "bcpkg.a (/opt/python/bcpkg/a.py: no .pyc for cpython-312)"}},
		// Bytecode for python3.11 is none for 3.12: a layer for 3.11 only
		// is not meant to have bytecode for 3.12.
		{"bytecode for another Python", other, BytecodeIfShipped, "3 compiled", nil},
		{"bytecode for another Python, required", other, BytecodeRequired, "3 compiled",
			[]string{"holds none for cpython-312", "bcpkg.b (/opt/python/bcpkg/b.py: no .pyc for cpython-312)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zipPath := layer(t, tc.files...)
			stdout, stderr, err := runWith(t, Options{Zip: zipPath, Python: py312, Modules: []string{"bcpkg"}, Bytecode: tc.rule})
			if want := lines("bcpkg\tok\t3.1.dev0\tbc-pkg==3.1\tMS\t" + tc.compiled); stdout != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
			}
			if tc.errors == nil {
				if err != nil {
					t.Errorf("Run: %v\n%s", err, stderr)
				}
				return
			}
			if err == nil {
				t.Fatal("Run passed a layer whose modules were compiled at import")
			}
			for _, want := range append(tc.errors, zipPath) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

// An error names at most ten modules, then how many more.
func TestManyCompiledModulesCut(t *testing.T) {
	t.Parallel()
	python := testenv.FindPython(t, "3.12")
	files := []file{{name: "python/many/__init__.py"}}
	var mods []string
	for _, c := range "abcdefghijklmn" {
		mods = append(mods, "m"+string(c))
		files = append(files, file{name: "python/many/m" + string(c) + ".py", body: ""})
	}
	files[0].body = "from . import " + strings.Join(mods, ", ") + "\n"
	_, _, err := runWith(t, Options{Zip: layer(t, files...), Python: python, Modules: []string{"many"}, Bytecode: BytecodeRequired})
	if err == nil {
		t.Fatal("Run passed")
	}
	if !strings.Contains(err.Error(), "compiled 15 modules") || !strings.HasSuffix(err.Error(), ", and 5 more") || strings.Count(err.Error(), "/opt/python/many/") != 10 {
		t.Errorf("error %q: want 15 counted, 10 named, then \"and 5 more\"", err)
	}
}
