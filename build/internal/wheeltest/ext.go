package wheeltest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// pyInfo is what building an extension needs to know about an interpreter.
type pyInfo struct {
	Version   string `json:"version"` // "3.12"
	Include   string `json:"include"`
	ExtSuffix string `json:"ext_suffix"`
}

func pythonInfo(python string) (pyInfo, error) {
	return pyInfos.get(python, func() (pyInfo, error) {
		const prog = `import json, sys, sysconfig
print(json.dumps({"version": "%d.%d" % sys.version_info[:2],
    "include": sysconfig.get_paths()["include"],
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX")}))`
		out, err := exec.Command(python, "-S", "-E", "-s", "-c", prog).Output()
		if err != nil {
			return pyInfo{}, fmt.Errorf("asking %s for its sysconfig: %w", python, err)
		}
		var info pyInfo
		if err := json.Unmarshal(out, &info); err != nil {
			return pyInfo{}, fmt.Errorf("asking %s for its sysconfig: %w", python, err)
		}
		return info, nil
	})
}

func mustInfo(t testing.TB, python string) pyInfo {
	t.Helper()
	info, err := pythonInfo(python)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// ExtSuffix returns the file name suffix python gives extension modules,
// e.g. ".cpython-312-x86_64-linux-gnu.so".
func ExtSuffix(t testing.TB, python string) string {
	t.Helper()
	return mustInfo(t, python).ExtSuffix
}

var (
	cIdentRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	cLiteralRE = regexp.MustCompile(`^[A-Za-z0-9._+!-]*$`)
)

// extSource is a minimal single-phase-init extension: add(a, b) and
// __version__. %[1]s is the full dotted name, %[2]s the last part, which
// names the init function, %[3]s the version.
const extSource = `#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "Return a + b."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "%[1]s", NULL, -1, methods};

PyMODINIT_FUNC PyInit_%[2]s(void) {
    PyObject *m = PyModule_Create(&def);
    if (m == NULL)
        return NULL;
    if (PyModule_AddStringConstant(m, "__version__", "%[3]s") < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
`

// CompileExtension compiles, with gcc against python's own headers, a real
// CPython extension module named module (dotted names allowed) with a
// function add(a, b) and a __version__ of version, and returns the shared
// object's bytes; install it as <module path> + ExtSuffix. Results are
// remembered for the life of the test process. It skips t (fails it under
// CI=true) when gcc or Python.h is missing.
func CompileExtension(t testing.TB, python, module, version string) []byte {
	t.Helper()
	parts := strings.Split(module, ".")
	for _, p := range parts {
		if !cIdentRE.MatchString(p) {
			t.Fatalf("extension module name %q: each part must be an ASCII identifier", module)
		}
	}
	if !cLiteralRE.MatchString(version) {
		t.Fatalf("extension version %q: want letters, digits and . _ + ! - only", version)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		testenv.SkipOrFail(t, "cannot build a C extension: gcc is not on PATH")
	}
	info := mustInfo(t, python)
	if _, err := os.Stat(filepath.Join(info.Include, "Python.h")); err != nil {
		testenv.SkipOrFail(t, "cannot build a C extension for %s: no Python.h in %s", python, info.Include)
	}
	so, err := extensions.get(python+"\x00"+module+"\x00"+version, func() ([]byte, error) {
		src := fmt.Sprintf(extSource, module, parts[len(parts)-1], version)
		return compile(gcc, info.Include, src)
	})
	if err != nil {
		t.Fatalf("extension %s for %s: %v", module, python, err)
	}
	return append([]byte(nil), so...) // callers may change their copy
}

func compile(gcc, include, src string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "wheeltest-ext-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Fixed file names keep the output free of random temp paths.
	if err := os.WriteFile(filepath.Join(dir, "ext.c"), []byte(src), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(gcc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-I"+include, "-o", "ext.so", "ext.c")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gcc: %w\n%s", err, out)
	}
	return os.ReadFile(filepath.Join(dir, "ext.so"))
}

// WheelOption changes what CompiledWheel writes.
type WheelOption func(*wheelConfig)

type wheelConfig struct {
	platlib bool
	plat    string
}

// InPlatlib puts the extension under {dist}-{version}.data/platlib/
// instead of the wheel's root.
func InPlatlib() WheelOption { return func(c *wheelConfig) { c.platlib = true } }

// PlatformTag replaces the platform tag, e.g. "manylinux_2_28_x86_64"
// (default: manylinux2014_<host machine>).
func PlatformTag(tag string) WheelOption { return func(c *wheelConfig) { c.plat = tag } }

// CompiledWheel writes {dist}-{version}-cp3X-cp3X-manylinux2014_<machine>.whl
// into dir, where 3X is python's version and machine the host's (x86_64 or
// aarch64), holding the extension CompileExtension builds for module (mode
// 0755, with an __init__.py for each parent package). It skips t on other
// architectures.
func CompiledWheel(t testing.TB, dir, python, dist, module, version string, opts ...WheelOption) (path, sum string) {
	t.Helper()
	machine := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if machine == "" {
		t.Skipf("no manylinux platform tag for GOARCH %s", runtime.GOARCH)
	}
	cfg := wheelConfig{plat: "manylinux2014_" + machine}
	for _, o := range opts {
		o(&cfg)
	}
	info := mustInfo(t, python)
	so := CompileExtension(t, python, module, version)
	cp := "cp" + strings.Replace(info.Version, ".", "", 1)
	dn := DistName(dist)
	prefix := ""
	if cfg.platlib {
		prefix = dn + "-" + version + ".data/platlib/"
	}
	parts := strings.Split(module, ".")
	var entries []Entry
	for i := 1; i < len(parts); i++ {
		entries = append(entries, Entry{Name: prefix + strings.Join(parts[:i], "/") + "/__init__.py"})
	}
	entries = append(entries, Entry{Name: prefix + strings.Join(parts, "/") + info.ExtSuffix, Data: so, Mode: 0o755})
	path, sum, err := Write(dir, fmt.Sprintf("%s-%s-%s-%s-%s.whl", dn, version, cp, cp, cfg.plat), entries)
	if err != nil {
		t.Fatal(err)
	}
	return path, sum
}
