package bytecode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

func TestParsePythonFlag(t *testing.T) {
	cases := []struct {
		in      string
		minor   int
		path    string
		errPart string
	}{
		{in: "3.12=/usr/bin/python3.12", minor: 12, path: "/usr/bin/python3.12"},
		{in: "python3.11=/opt/py/bin/python", minor: 11, path: "/opt/py/bin/python"},
		{in: "3.13=python3.13", minor: 13, path: "python3.13"},
		{in: "3.12=/odd/a=b", minor: 12, path: "/odd/a=b"},
		{in: "3.12=", errPart: "want 3.X=INTERPRETER"},
		{in: "3.12", errPart: "want 3.X=INTERPRETER"},
		{in: "=/usr/bin/python3", errPart: "want 3.X=INTERPRETER"},
		{in: "3=/usr/bin/python3", errPart: "want 3.X=INTERPRETER"},
		{in: "py3.12=/usr/bin/python3", errPart: "want 3.X=INTERPRETER"},
		{in: "3.8=/usr/bin/python3.8", errPart: "not a Lambda Python runtime"},
	}
	for _, tc := range cases {
		rt, path, err := ParsePythonFlag(tc.in)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("ParsePythonFlag(%q) error %v, want one naming the value and %q", tc.in, err, tc.errPart)
			}
			continue
		}
		if err != nil || rt.Minor != tc.minor || path != tc.path {
			t.Errorf("ParsePythonFlag(%q) = %v, %q, %v; want 3.%d, %q", tc.in, rt, path, err, tc.minor, tc.path)
		}
	}

	m, err := ParsePythonFlags([]string{"3.11=/a", "python3.12=/b", "3.11=/a"})
	if err != nil || m[target.Runtime{Minor: 11}] != "/a" || m[target.Runtime{Minor: 12}] != "/b" || len(m) != 2 {
		t.Errorf("ParsePythonFlags = %v, %v", m, err)
	}
	if _, err := ParsePythonFlags([]string{"3.11=/a", "3.11=/b"}); err == nil || !strings.Contains(err.Error(), "/a and /b") {
		t.Errorf("two interpreters for 3.11: %v, want an error naming both", err)
	}
}

// fakeMachine is a folder of programs standing in for PATH.
type fakeMachine struct{ dir string }

func (m fakeMachine) finder() Finder {
	return Finder{LookPath: func(name string) (string, error) {
		p := filepath.Join(m.dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", exec.ErrNotFound
		}
		return p, nil
	}}
}

func (m fakeMachine) link(t *testing.T, name, target string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(m.dir, name)); err != nil {
		t.Fatal(err)
	}
}

func (m fakeMachine) script(t *testing.T, name, body string) string {
	return writeScript(t, m.dir, name, body)
}

// The search order, each place's failure passed over, and what the user
// sees when nothing fits.
func TestFindOrder(t *testing.T) {
	py312 := testenv.FindPython(t, "3.12")
	py311 := testenv.FindPython(t, "3.11")
	prefix312 := filepath.Dir(filepath.Dir(py312))
	rt := target.Runtime{Minor: 12}
	refusingShim := `echo "pyenv: python3.12: command not found" >&2; exit 127`
	pyenv := fmt.Sprintf(`case "$1" in
versions) printf '3.11.7\n3.12.1/envs/tools\n3.12.1\n3.13.0t\n3.12.0\nsystem\n';;
prefix) if [ "$2" = 3.12.1 ]; then echo %s; else echo "pyenv: version '$2' not installed" >&2; exit 1; fi;;
esac`, prefix312)

	cases := []struct {
		name     string
		setup    func(t *testing.T, m fakeMachine)
		explicit string
		found    string
		path     string // "" to skip the check
	}{
		{
			name:     "--python first",
			setup:    func(t *testing.T, m fakeMachine) { m.link(t, "python3.12", py312) },
			explicit: py312,
			found:    "--python",
			path:     py312,
		},
		{
			name:  "python3.12 on PATH",
			setup: func(t *testing.T, m fakeMachine) { m.link(t, "python3.12", py312) },
			found: "python3.12 on PATH",
		},
		{
			name: "a shim that refuses is passed over for pyenv's newest 3.12.N",
			setup: func(t *testing.T, m fakeMachine) {
				m.script(t, "python3.12", refusingShim)
				m.script(t, "pyenv", pyenv)
			},
			found: "pyenv 3.12.1",
			path:  filepath.Join(prefix312, "bin", "python3.12"),
		},
		{
			name: "another version on PATH is passed over for uv's",
			setup: func(t *testing.T, m fakeMachine) {
				m.link(t, "python3.12", py311)
				m.script(t, "uv", `[ "$1 $2 $3" = "python find 3.12" ] && echo `+py312)
			},
			found: "uv python find 3.12",
			path:  py312,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeMachine{t.TempDir()}
			tc.setup(t, m)
			var explicit map[target.Runtime]string
			if tc.explicit != "" {
				explicit = map[target.Runtime]string{rt: tc.explicit}
			}
			in, err := m.finder().Find(context.Background(), rt, explicit)
			if err != nil {
				t.Fatal(err)
			}
			if in.Found != tc.found || (tc.path != "" && in.Path != tc.path) {
				t.Errorf("found %s at %s, want %s at %s", in.Found, in.Path, tc.found, tc.path)
			}
			if !strings.HasPrefix(in.Version, "3.12.") || in.Magic != finalMagic[12] || in.CacheTag != "cpython-312" {
				t.Errorf("probe: %+v", in)
			}
		})
	}
}

func TestFindNothingIsAClearError(t *testing.T) {
	m := fakeMachine{t.TempDir()}
	m.script(t, "python3.12", `echo "pyenv: python3.12: command not found" >&2; exit 127`)
	m.script(t, "pyenv", `[ "$1" = versions ] && printf '3.11.7\n3.13.0\n'`)
	_, err := m.finder().Find(context.Background(), target.Runtime{Minor: 12}, nil)
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Runtime.Minor != 12 {
		t.Fatalf("error %v, want a *NotFoundError for 3.12", err)
	}
	for _, want := range []string{
		"python3.12 bytecode needs a CPython 3.12 interpreter",
		"--python 3.12=PATH: not given",
		"python3.12 on PATH: " + filepath.Join(m.dir, "python3.12") + " does not run: exit status 127: pyenv: python3.12: command not found",
		"pyenv: no 3.12.N installed",
		"uv: not on PATH",
		"actions/setup-python (python-version: '3.12')",
		"`pyenv install 3.12`",
		"`uv python install 3.12`",
		"--no-bytecode",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

// An interpreter named with --python is used or refused, never passed
// over: the user asked for it.
func TestFindRefusesAnUnfitExplicitInterpreter(t *testing.T) {
	dir := t.TempDir()
	py311 := testenv.FindPython(t, "3.11")
	fake := func(name, impl, version, magicHex, tag string) string {
		return writeScript(t, dir, name, fmt.Sprintf(`printf '%s\t%s\t%s\t%s\t%s\n'`, impl, version, magicHex, tag, filepath.Join(dir, name)))
	}
	cases := []struct {
		name  string
		path  string
		wants []string
	}{
		{"pre-release magic", fake("beta", "cpython", "3.12.0b3", "ca0d0d0a", "cpython-312"),
			[]string{filepath.Join(dir, "beta"), "Python 3.12.0b3", "magic number 3530", "final releases use 3531"}},
		{"not CPython", fake("pypy", "pypy", "3.12.1", "cb0d0d0a", "pypy312"), []string{"pypy 3.12.1, not CPython"}},
		{"another version", py311, []string{"is Python 3.11.", "not 3.12"}},
		{"cache tag", fake("tag", "cpython", "3.12.1", "cb0d0d0a", "cpython-312t"), []string{`cache tag "cpython-312t"`}},
		{"missing", filepath.Join(dir, "nothing"), []string{"does not run"}},
		{"not Python", writeScript(t, dir, "echo", `echo hello`), []string{"is not a CPython 3 interpreter"}},
	}
	for _, tc := range cases {
		_, err := Finder{}.Find(context.Background(), target.Runtime{Minor: 12}, map[target.Runtime]string{{Minor: 12}: tc.path})
		for _, want := range append(tc.wants, "--python 3.12="+tc.path) {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %v, want it to say %q", tc.name, err, want)
			}
		}
	}
}

// On this machine (pyenv's interpreters, the python3.X shims on PATH)
// every runtime the image provides is found without help.
func TestFindOnThisMachine(t *testing.T) {
	for _, minor := range testMinors {
		rt := target.Runtime{Minor: minor}
		testenv.FindPython(t, rt.Version()) // skips (fails under CI) when the image lacks it
		in, err := Find(context.Background(), rt, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(in.Version, rt.Version()+".") || in.Magic != finalMagic[minor] || in.Found == "--python" {
			t.Errorf("%s: %+v", rt, in)
		}
		if strings.Contains(in.Path, "shims") {
			t.Errorf("%s: %s is a shim; the real binary is wanted", rt, in.Path)
		}
		t.Logf("%s: %s, from %s", rt, in, in.Found)
	}
}

// The table agrees with the final releases on this machine, read the way
// importlib reads it.
func TestFinalMagicMatchesTheInterpreters(t *testing.T) {
	for _, minor := range testMinors {
		rt := target.Runtime{Minor: minor}
		in := &Interpreter{Path: testenv.FindPython(t, rt.Version())}
		out := runPython(t, in, nil, "import importlib.util, sys; print(int.from_bytes(importlib.util.MAGIC_NUMBER[:2], 'little'), sys.version_info.releaselevel)")
		want, ok := FinalMagic(rt)
		if got := strings.TrimSpace(out); !ok || got != fmt.Sprintf("%d final", want) {
			t.Errorf("%s: interpreter says %q, FinalMagic says %d (%v)", rt, got, want, ok)
		}
	}
	if _, ok := FinalMagic(target.Runtime{Minor: 15}); ok {
		t.Error("FinalMagic knows a magic number for 3.15")
	}
}
