package bytecode

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/target"
)

// Finder looks for the interpreter that compiles a runtime's bytecode. Its
// zero value looks at the real machine; tests set the fields to look at a
// made-up one.
type Finder struct {
	// LookPath finds a program on PATH; exec.LookPath when nil.
	LookPath func(file string) (string, error)
	// Output runs a program (pyenv, uv) and returns its standard output;
	// when nil the program is run as a candidate is, within Limit.
	Output func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Limit bounds each run of a candidate, pyenv or uv; ProbeTimeout
	// when zero.
	Limit time.Duration
	// Note, when set, is told of each candidate passed over because it
	// did not answer within Limit, naming it and what it did: unlike one
	// that is not the right Python, it may be a broken setup worth fixing.
	Note func(format string, args ...any)
}

// NotFoundError is Find's error when no usable interpreter was found.
type NotFoundError struct {
	Runtime target.Runtime
	Tried   []string // one line per place looked at, saying what was there
}

func (e *NotFoundError) Error() string {
	v := e.Runtime.Version()
	var b strings.Builder
	fmt.Fprintf(&b, "%s bytecode needs a CPython %s interpreter, and none was found:\n", e.Runtime, v)
	for _, t := range e.Tried {
		b.WriteString("  " + t + "\n")
	}
	fmt.Fprintf(&b, "get one with actions/setup-python (python-version: '%s'), `pyenv install %s` or `uv python install %s`, "+
		"pass it with --python %s=PATH if it is not on PATH, or build without bytecode with --no-bytecode", v, v, v, v)
	return b.String()
}

// Find returns the interpreter that compiles rt's bytecode, looking on
// this machine; see Finder.Find.
func Find(ctx context.Context, rt target.Runtime, explicit map[target.Runtime]string) (*Interpreter, error) {
	return Finder{}.Find(ctx, rt, explicit)
}

// Find returns the interpreter that compiles rt's bytecode. It looks, in
// order, at explicit[rt] (from --python 3.X=PATH), python3.X on PATH, the
// newest 3.X.N pyenv has installed, and what `uv python find 3.X` names.
// Each candidate is run once, for at most f.Limit, and used only if it is
// CPython 3.X with the final releases' magic number (FinalMagic). An
// explicit interpreter that fails the check, or does not answer, is an
// error; any other is passed over and named in the *NotFoundError
// returned when nothing fits (one that did not answer also in a Note).
// Every run is within ctx: when ctx ends, Find does too, naming what it
// was waiting for, and kills it with whatever it started.
func (f Finder) Find(ctx context.Context, rt target.Runtime, explicit map[target.Runtime]string) (*Interpreter, error) {
	if _, ok := FinalMagic(rt); !ok {
		return nil, fmt.Errorf("%s: no final .pyc magic number is known for this runtime", rt)
	}
	v := rt.Version()
	if p := explicit[rt]; p != "" {
		path := p
		if !strings.ContainsRune(p, filepath.Separator) && !strings.ContainsRune(p, '/') {
			lp, err := f.lookPath(p)
			if err != nil {
				return nil, fmt.Errorf("--python %s=%s: %s is not on PATH", v, clip.String(p), clip.String(p))
			}
			path = lp
		}
		in, err := probe(ctx, rt, path, f.limit())
		if err != nil {
			return nil, fmt.Errorf("--python %s=%s: %w", v, clip.String(p), err)
		}
		in.Found = "--python"
		return in, nil
	}
	tried := []string{"--python " + v + "=PATH: not given"}

	name := "python" + v
	if path, err := f.lookPath(name); err != nil {
		tried = append(tried, name+": not on PATH")
	} else if in, err := f.candidate(ctx, rt, name+" on PATH", path); err != nil {
		if ctx.Err() != nil {
			return nil, f.interrupted(rt, err)
		}
		tried = append(tried, name+" on PATH: "+err.Error())
	} else {
		in.Found = name + " on PATH"
		return in, nil
	}

	in, msg := f.fromPyenv(ctx, rt)
	if in != nil {
		return in, nil
	}
	if ctx.Err() != nil {
		return nil, f.interrupted(rt, errors.New("pyenv: "+msg))
	}
	tried = append(tried, "pyenv: "+msg)

	in, msg = f.fromUV(ctx, rt)
	if in != nil {
		return in, nil
	}
	if ctx.Err() != nil {
		return nil, f.interrupted(rt, errors.New("uv: "+msg))
	}
	tried = append(tried, "uv: "+msg)
	return nil, &NotFoundError{Runtime: rt, Tried: tried}
}

// candidate probes one interpreter found at where, noting it when it does
// not answer.
func (f Finder) candidate(ctx context.Context, rt target.Runtime, where, path string) (*Interpreter, error) {
	in, err := probe(ctx, rt, path, f.limit())
	var na *noAnswerError
	if errors.As(err, &na) && f.Note != nil {
		f.Note("note: %s bytecode: passing over %s: %v", rt, where, err)
	}
	return in, err
}

// interrupted is Find's error when ctx ended during the search.
func (f Finder) interrupted(rt target.Runtime, err error) error {
	return fmt.Errorf("%s bytecode: looking for a CPython %s interpreter: %w", rt, rt.Version(), err)
}

func (f Finder) limit() time.Duration {
	if f.Limit > 0 {
		return f.Limit
	}
	return ProbeTimeout
}

// fromPyenv tries pyenv's installed 3.X.N, newest first. On failure it
// returns what it saw, for the error.
func (f Finder) fromPyenv(ctx context.Context, rt target.Runtime) (*Interpreter, string) {
	pyenv, err := f.lookPath("pyenv")
	if err != nil {
		return nil, "not on PATH"
	}
	out, err := f.output(ctx, pyenv, "versions", "--bare")
	if err != nil {
		return nil, "pyenv versions --bare: " + err.Error()
	}
	// Only plain 3.X.N: virtualenvs ("3.12.1/envs/x"), free-threaded
	// ("3.13.0t") and pre-releases are not what Lambda runs.
	patchRE := regexp.MustCompile(`^` + regexp.QuoteMeta(rt.Version()) + `\.([0-9]+)$`)
	type version struct {
		name  string
		patch int
	}
	var found []version
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if m := patchRE.FindStringSubmatch(line); m != nil {
			n, err := strconv.Atoi(m[1])
			if err == nil {
				found = append(found, version{line, n})
			}
		}
	}
	if len(found) == 0 {
		return nil, "no " + rt.Version() + ".N installed"
	}
	slices.SortFunc(found, func(a, b version) int { return b.patch - a.patch })
	var problems []string
	for _, ver := range found {
		prefix, err := f.output(ctx, pyenv, "prefix", ver.name)
		if err != nil {
			problems = append(problems, "pyenv prefix "+ver.name+": "+err.Error())
			if ctx.Err() != nil {
				break
			}
			continue
		}
		path := filepath.Join(strings.TrimSpace(string(prefix)), "bin", "python"+rt.Version())
		in, err := f.candidate(ctx, rt, "pyenv "+ver.name, path)
		if ctx.Err() != nil {
			problems = append(problems, err.Error())
			break
		}
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		in.Found = "pyenv " + ver.name
		return in, ""
	}
	return nil, strings.Join(problems, "; ")
}

// fromUV asks uv for an installed 3.X (uv never downloads for `find`).
func (f Finder) fromUV(ctx context.Context, rt target.Runtime) (*Interpreter, string) {
	uv, err := f.lookPath("uv")
	if err != nil {
		return nil, "not on PATH"
	}
	out, err := f.output(ctx, uv, "python", "find", rt.Version())
	if err != nil {
		return nil, "uv python find " + rt.Version() + ": " + err.Error()
	}
	path := strings.TrimSpace(string(out))
	if path == "" {
		return nil, "uv python find " + rt.Version() + " printed nothing"
	}
	in, err := f.candidate(ctx, rt, "uv python find "+rt.Version(), path)
	if err != nil {
		return nil, err.Error()
	}
	in.Found = "uv python find " + rt.Version()
	return in, ""
}

func (f Finder) lookPath(file string) (string, error) {
	if f.LookPath != nil {
		return f.LookPath(file)
	}
	p, err := exec.LookPath(file)
	if errors.Is(err, exec.ErrDot) {
		// A program found only through "." in PATH depends on where the
		// build happens to run; not something to compile a layer with.
		return "", err
	}
	return p, err
}

func (f Finder) output(ctx context.Context, name string, args ...string) ([]byte, error) {
	if f.Output != nil {
		return f.Output(ctx, name, args...)
	}
	out, stderr, err := runBounded(ctx, f.limit(), nil, name, args...)
	var na *noAnswerError
	if errors.As(err, &na) && f.Note != nil {
		f.Note("note: passing over %s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
	if err != nil {
		if msg := lastLine(string(stderr)); msg != "" {
			return nil, fmt.Errorf("%w: %s", err, msg)
		}
		return nil, err
	}
	return out, nil
}

var pythonFlagRE = regexp.MustCompile(`^(?:python)?(3\.[0-9]+)=(.+)$`)

// ParsePythonFlag parses one --python value, "3.12=/path/to/python3.12"
// (or "python3.12=..."), into the runtime and the interpreter path.
func ParsePythonFlag(s string) (target.Runtime, string, error) {
	m := pythonFlagRE.FindStringSubmatch(s)
	if m == nil {
		return target.Runtime{}, "", fmt.Errorf("--python %s: want 3.X=INTERPRETER, e.g. --python 3.12=/usr/bin/python3.12", clip.Quote(s))
	}
	rt, err := target.ParseRuntime("python" + m[1])
	if err != nil {
		return target.Runtime{}, "", fmt.Errorf("--python %s: %w", clip.Quote(s), err)
	}
	return rt, m[2], nil
}

// ParsePythonFlags parses every --python value into the map Find takes.
// Naming two interpreters for one runtime is an error.
func ParsePythonFlags(values []string) (map[target.Runtime]string, error) {
	m := make(map[target.Runtime]string, len(values))
	for _, s := range values {
		rt, path, err := ParsePythonFlag(s)
		if err != nil {
			return nil, err
		}
		if prev, ok := m[rt]; ok && prev != path {
			return nil, fmt.Errorf("--python names two interpreters for %s: %s and %s", rt.Version(), clip.String(prev), clip.String(path))
		}
		m[rt] = path
	}
	return m, nil
}
