package bytecode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// historyScript gives the interpreter as much history as a long-lived
// build tool could: it imports every standard library module it can,
// interns every name and string value they hold and every one-character
// string, then compiles every module twice in a shuffled order, keeping
// every code object alive, and writes marshal.dumps of the second pass.
const historyScript = `
import sys, json, marshal, os, pkgutil, importlib, random
sys.path[:] = [p for p in sys.path if p]  # the standard library only
files = json.load(open(sys.argv[1]))
out = sys.argv[2]
mods = []
for m in pkgutil.iter_modules():
    if m.name.startswith(('test', 'idlelib', 'tkinter', 'turtle', 'antigravity', 'this', '_')):
        continue
    try:
        mods.append(importlib.import_module(m.name))
    except BaseException:
        pass
interned = [sys.intern(chr(c)) for c in range(256)]
for m in mods:
    for k, v in list(vars(m).items()):
        interned.append(sys.intern(k))
        if type(v) is str:
            interned.append(sys.intern(v))
srcs = [open(f, 'rb').read() for f, _ in files]
order = list(range(len(srcs)))
random.Random(7).shuffle(order)
keep = []
for last in (False, True):
    for i in order:
        try:
            c = compile(srcs[i], files[i][1], 'exec', dont_inherit=True, optimize=0)
        except Exception:
            continue
        keep.append(c)
        if last:
            with open(os.path.join(out, '%d.raw' % i), 'wb') as f:
                f.write(marshal.dumps(c))
if len(mods) < 100:
    raise SystemExit('only %d modules imported' % len(mods))
`

// checkScript loads each canonical .pyc next to the interpreter's own
// marshal.dumps of the same source and checks the header and that both
// load to the same code, attribute by attribute, with every filename the
// run-time path.
const checkScript = `
import sys, json, marshal, importlib.util
CodeType = type(compile('', '', 'exec'))
def same(a, b, run, where):
    if type(a) is not type(b):
        raise SystemExit('%s: %r is not %r' % (where, a, b))
    if isinstance(a, CodeType):
        if a.co_filename != run:
            raise SystemExit('%s: co_filename %r, want %r' % (where, a.co_filename, run))
        for n in dir(a):
            if n.startswith('co_') and n not in ('co_consts', 'co_lnotab') and not callable(getattr(a, n)):
                if getattr(a, n) != getattr(b, n):
                    raise SystemExit('%s.%s differs' % (where, n))
        if hasattr(a, 'co_lines') and list(a.co_lines()) != list(b.co_lines()):
            raise SystemExit('%s: co_lines differ' % where)
        if len(a.co_consts) != len(b.co_consts):
            raise SystemExit('%s: co_consts differ in length' % where)
        for i, (x, y) in enumerate(zip(a.co_consts, b.co_consts)):
            same(x, y, run, '%s.co_consts[%d]' % (where, i))
    elif a != b and a == a:
        raise SystemExit('%s: %r != %r' % (where, a, b))
n = 0
for src, run, pyc, raw in json.load(open(sys.argv[1])):
    s, p, r = open(src, 'rb').read(), open(pyc, 'rb').read(), open(raw, 'rb').read()
    if p[:4] != importlib.util.MAGIC_NUMBER:
        raise SystemExit('%s: magic %r' % (run, p[:4]))
    if p[4:8] != b'\x01\x00\x00\x00':
        raise SystemExit('%s: flags %r, want unchecked hash' % (run, p[4:8]))
    if p[8:16] != importlib.util.source_hash(s):
        raise SystemExit('%s: source hash %r, want %r' % (run, p[8:16], importlib.util.source_hash(s)))
    a, b = marshal.loads(p[16:]), marshal.loads(r)
    if a != b:
        raise SystemExit('%s: code differs' % run)
    same(a, b, run, run)
    n += 1
print(n)
`

// The heart of reproducible bytecode: a module's .pyc must not depend on
// what the compiler process did before. marshal.dumps flags objects for
// reference by refcount, so raw bytes do depend on it; the test provokes
// that, shows it, and shows the Compiler's canonical bytes do not move.
func TestCompiledBytesDependOnSourceAlone(t *testing.T) {
	var pip []source
	if !testing.Short() {
		pip = pipSources(t)
	}
	for _, minor := range testMinors {
		t.Run(fmt.Sprintf("3.%d", minor), func(t *testing.T) {
			t.Parallel()
			in := interpreter(t, minor)
			srcs := append(append(stdlibSources(t, in), pip...), setsSource)

			// (a) A fresh process, modules in name order.
			fresh := newRecorder(srcs)
			c := startCompiler(t, in)
			c.onRaw = fresh.record
			canonFresh := compileAll(t, c, srcs, ascending(len(srcs)))

			// (b) A process that first compiled the interpreter's other
			// standard library packages, then the modules in another order.
			warm := newRecorder(srcs)
			c = startCompiler(t, in)
			other := otherStdlib(t, in)
			compileAll(t, c, other, ascending(len(other)))
			c.onRaw = warm.record
			order := ascending(len(srcs))
			rand.New(rand.NewPCG(1, uint64(minor))).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			canonWarm := compileAll(t, c, srcs, order)

			// (c) marshal.dumps in a process with every kind of history.
			dir := t.TempDir()
			var files [][2]string
			for i, s := range srcs {
				p := filepath.Join(dir, fmt.Sprintf("%d.py", i))
				if err := os.WriteFile(p, s.data, 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, [2]string{p, s.runPath})
			}
			manifest := writeJSON(t, dir, "files.json", files)
			// Another hash seed too: 3.9 and 3.10 write a frozenset in
			// hash order, which the seed (and for None, the address) decides.
			runPython(t, in, []string{"PYTHONHASHSEED=12345"}, historyScript, manifest, dir)

			compiled, rawDiffWarm, rawDiffHistory := 0, 0, 0
			var check [][4]string
			for i, s := range srcs {
				if (canonFresh[i] == nil) != (canonWarm[i] == nil) {
					t.Fatalf("%s compiled in one process and not the other", s.runPath)
				}
				history, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.raw", i)))
				if canonFresh[i] == nil {
					if err == nil {
						t.Errorf("%s: skipped by the Compiler, compiled by the interpreter", s.runPath)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: compiled by the Compiler, not by the interpreter: %v", s.runPath, err)
				}
				compiled++
				if !bytes.Equal(canonFresh[i], canonWarm[i]) {
					t.Errorf("%s: canonical .pyc differs between a fresh and a warmed compiler", s.runPath)
				}
				canonHistory, err := Canonicalize(history, minor)
				if err != nil {
					t.Fatalf("%s: %v", s.runPath, err)
				}
				if !bytes.Equal(canonFresh[i][HeaderSize:], canonHistory) {
					t.Errorf("%s: canonical .pyc differs from the canonical form of what marshal.dumps wrote after the history script", s.runPath)
				}
				if !bytes.Equal(fresh.raw[i], warm.raw[i]) {
					rawDiffWarm++
				}
				if !bytes.Equal(fresh.raw[i][HeaderSize:], history) {
					rawDiffHistory++
				}
				pyc, raw := filepath.Join(dir, fmt.Sprintf("%d.pyc", i)), filepath.Join(dir, fmt.Sprintf("%d.rawpyc", i))
				writeFile(t, pyc, canonFresh[i])
				writeFile(t, raw, fresh.raw[i][HeaderSize:])
				check = append(check, [4]string{files[i][0], s.runPath, pyc, raw})
			}
			t.Logf("%s: %d of %d modules compiled; raw marshal differs from a fresh process's in %d after a warm-up (Compiler process), in %d after the history script; canonical bytes identical in all",
				in, compiled, len(srcs), rawDiffWarm, rawDiffHistory)
			if compiled < len(srcs)*9/10 {
				t.Errorf("only %d of %d real modules compiled", compiled, len(srcs))
			}
			if minor <= 10 && bytes.Equal(fresh.raw[len(srcs)-1][HeaderSize:], mustRead(t, filepath.Join(dir, fmt.Sprintf("%d.raw", len(srcs)-1)))) {
				t.Errorf("%s: frozensets of strings were written in the same order under two hash seeds; the test does not show the set-order trap", in)
			}
			if rawDiffWarm+rawDiffHistory == 0 {
				t.Errorf("%s: history did not change marshal.dumps output for any of %d modules, so this test proves nothing about it", in, compiled)
			}

			// The canonical bytes load to the same code as the raw ones.
			out := runPython(t, in, nil, checkScript, writeJSON(t, dir, "check.json", check))
			if got := strings.TrimSpace(out); got != fmt.Sprint(compiled) {
				t.Errorf("check script verified %s modules, want %d", got, compiled)
			}
		})
	}
}

// setsSource is a module of frozenset constants, whose element order
// marshal takes from hashes in 3.9 and 3.10.
var setsSource = source{runPath: "/opt/python/sets.py", data: []byte(`
def kind(x):
    if x in {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}:
        return 1
    if x in {None, ..., 1.5, -2, "mixed", b"bytes", (1, "tuple")}:
        return 2
    return x not in {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"}
`)}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder keeps what the interpreter wrote before canonicalization, by
// the module's index.
type recorder struct {
	index map[string]int
	raw   [][]byte
}

func newRecorder(srcs []source) *recorder {
	r := &recorder{index: make(map[string]int, len(srcs)), raw: make([][]byte, len(srcs))}
	for i, s := range srcs {
		r.index[s.runPath] = i
	}
	return r
}

func (r *recorder) record(runPath string, pyc []byte) { r.raw[r.index[runPath]] = pyc }

// otherStdlib returns modules of in's standard library packages (email,
// json, http, logging, ...) to warm a compiler up with.
func otherStdlib(t testing.TB, in *Interpreter) []source {
	t.Helper()
	lib := filepath.Join(filepath.Dir(filepath.Dir(in.Path)), "lib", "python"+in.Runtime.Version())
	var out []source
	for _, pkg := range []string{"email", "json", "http", "logging", "asyncio", "unittest", "xml/dom"} {
		names, _ := filepath.Glob(filepath.Join(lib, pkg, "*.py"))
		slices.Sort(names)
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, source{runPath: "/opt/python/" + pkg + "/" + filepath.Base(n), data: b})
		}
	}
	if len(out) < 50 {
		t.Fatalf("only %d stdlib package modules under %s", len(out), lib)
	}
	return out
}

func writeJSON(t testing.TB, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	writeFile(t, p, b)
	return p
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
