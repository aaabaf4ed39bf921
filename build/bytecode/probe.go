package bytecode

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/procgroup"
	"github.com/galerly/galerly-lambda/build/target"
)

// finalMagic is the .pyc magic number of each Python minor version's
// final releases, from CPython's own list (Lib/importlib/_bootstrap_external.py
// up to 3.12, Include/internal/pycore_magic_number.h from 3.13):
//
//	3.9   3425  (3.9a2,  simplify bytecodes for **value unpacking)
//	3.10  3439  (3.10b1, add ROT_N)
//	3.11  3495  (3.11b4, set line number of module's RESUME instr to 0)
//	3.12  3531  (3.12b1, add PEP 695 changes)
//	3.13  3571  (3.13b1, fix miscompilation of private names in generic classes)
//	3.14  3627  (3.14rc3, fix miscompilation of some module-level annotations)
//
// The number is frozen by the release candidates, so every 3.X.N shares it,
// and a pre-release with another number writes bytecode that the Lambda
// runtime would reject and recompile.
var finalMagic = map[int]uint16{
	9:  3425,
	10: 3439,
	11: 3495,
	12: 3531,
	13: 3571,
	14: 3627,
}

// FinalMagic returns the .pyc magic number of rt's final releases (3531
// for python3.12), known without an interpreter; ok is false for a runtime
// this package does not know.
func FinalMagic(rt target.Runtime) (magic uint16, ok bool) {
	magic, ok = finalMagic[rt.Minor]
	return magic, ok
}

// Interpreter is a CPython checked to write bytecode for one Lambda
// runtime.
type Interpreter struct {
	Runtime target.Runtime
	// Path is the interpreter binary as the interpreter itself reports it
	// (sys.executable), so a pyenv shim found on PATH resolves to the real
	// binary and cannot switch versions between the probe and the build.
	Path string
	// Version is the full version, e.g. "3.12.1" or "3.14.0rc3"; builds
	// record it because bytecode can differ between patch releases.
	Version string
	// Magic is the .pyc magic number, e.g. 3531: FinalMagic(Runtime).
	Magic uint16
	// CacheTag is sys.implementation.cache_tag, e.g. "cpython-312".
	CacheTag string
	// Found says where the interpreter came from, e.g. "--python",
	// "python3.12 on PATH", "pyenv 3.12.1", "uv python find 3.12".
	Found string
}

// String names the interpreter for messages: "Python 3.12.1 (/path/python3.12)".
func (in *Interpreter) String() string {
	return "Python " + in.Version + " (" + in.Path + ")"
}

// ProbeTimeout bounds one run of a candidate interpreter (or of pyenv or
// uv, asked where one is): a healthy one answers in well under a second,
// even on a busy CI runner, and one that does not answer must not stall
// the build. A Finder may set another limit.
const ProbeTimeout = 5 * time.Second

// waitDelay bounds how long a run waits, after the program exited or was
// killed, for a process outside its group still holding its output.
const waitDelay = time.Second

// probeScript prints what the builder needs to know, tab-separated, using
// only modules that are built in or already imported at startup.
const probeScript = `import sys
ext = sys.modules['_frozen_importlib_external']
v = sys.version_info
rel = {'alpha': 'a', 'beta': 'b', 'candidate': 'rc'}.get(v.releaselevel, '')
ver = '%d.%d.%d' % v[:3] + (rel + str(v.serial) if rel else '')
sys.stdout.write('\t'.join([sys.implementation.name, ver, ext.MAGIC_NUMBER.hex(),
    str(sys.implementation.cache_tag), sys.executable]) + '\n')
`

// interpreterArgs are the flags for every run of a candidate: no site
// module (no .pth files, no user site-packages), no bytecode written.
// -E and -I are not used because they would also drop PYTHONHASHSEED;
// the environment is replaced instead (see interpreterEnv).
var interpreterArgs = []string{"-S", "-s", "-B"}

// interpreterEnv is the whole environment of every run: nothing the
// caller has set (PYTHONPATH, PYTHONHOME, PYTHONOPTIMIZE, PYTHONWARNINGS,
// a virtualenv) can change what compile() produces, and the hash seed is
// fixed so that nothing hash-ordered can vary between runs.
func interpreterEnv() []string {
	return []string{"PYTHONHASHSEED=0", "PYTHONUTF8=1"}
}

// probe runs path once, for at most limit (and within ctx), and checks
// that it is CPython 3.<rt.Minor> with the final release's magic number.
// A candidate that does not answer in time is an *noAnswerError; ctx
// ending first is an error wrapping ctx's.
func probe(ctx context.Context, rt target.Runtime, path string, limit time.Duration) (*Interpreter, error) {
	shown := clip.String(path)
	stdout, stderr, err := runBounded(ctx, limit, interpreterEnv(), path, append(slices.Clone(interpreterArgs), "-c", probeScript)...)
	if err != nil {
		var na *noAnswerError
		if errors.As(err, &na) || ctx.Err() != nil {
			return nil, err
		}
		msg := lastLine(string(stderr))
		if msg == "" {
			return nil, fmt.Errorf("%s does not run: %v", shown, err)
		}
		return nil, fmt.Errorf("%s does not run: %v: %s", shown, err, msg)
	}
	f := strings.Split(strings.TrimRight(string(stdout), "\n"), "\t")
	if len(f) != 5 {
		return nil, fmt.Errorf("%s is not a CPython 3 interpreter (it printed %s)", shown, clip.Quote(string(stdout)))
	}
	impl, version, magicHex, cacheTag, exe := f[0], f[1], f[2], f[3], f[4]
	if impl != "cpython" {
		return nil, fmt.Errorf("%s is %s %s, not CPython: its bytecode is not what the Lambda runtime reads", shown, clip.String(impl), clip.String(version))
	}
	if !strings.HasPrefix(version, rt.Version()+".") {
		return nil, fmt.Errorf("%s is Python %s, not %s", shown, clip.String(version), rt.Version())
	}
	magic, err := parseMagic(magicHex)
	if err != nil {
		return nil, fmt.Errorf("%s (Python %s) reports magic number %s: %v", shown, version, clip.Quote(magicHex), err)
	}
	want, ok := FinalMagic(rt)
	if !ok {
		return nil, fmt.Errorf("no final .pyc magic number is known for %s", rt)
	}
	if magic != want {
		return nil, fmt.Errorf("%s (Python %s) writes .pyc magic number %d, but %s final releases use %d: a pre-release's bytecode would be rejected by the Lambda runtime",
			shown, version, magic, rt, want)
	}
	if wantTag := CacheTag(rt); cacheTag != wantTag {
		return nil, fmt.Errorf("%s (Python %s) has cache tag %s, want %q", shown, version, clip.Quote(cacheTag), wantTag)
	}
	if exe == "" {
		exe = path
	}
	return &Interpreter{Runtime: rt, Path: exe, Version: version, Magic: magic, CacheTag: cacheTag}, nil
}

// parseMagic decodes importlib.util.MAGIC_NUMBER as hex: two bytes of the
// number, little-endian, then "\r\n".
func parseMagic(s string) (uint16, error) {
	if len(s) != 8 || !strings.HasSuffix(s, "0d0a") {
		return 0, errors.New(`want 2 bytes and "\r\n"`)
	}
	n, err := strconv.ParseUint(s[2:4]+s[0:2], 16, 16)
	if err != nil {
		return 0, err
	}
	return uint16(n), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return clip.String(s)
}

// noAnswerError is a program that did not finish within its limit; it
// says what the program had done by then.
type noAnswerError struct {
	path   string
	limit  time.Duration
	stdout []byte
	stderr []byte
}

func (e *noAnswerError) Error() string {
	var did []string
	if len(e.stdout) > 0 {
		did = append(did, "printed "+clip.Quote(string(e.stdout)))
	}
	if msg := lastLine(string(e.stderr)); msg != "" {
		did = append(did, "wrote "+clip.Quote(msg)+" on stderr")
	}
	what := "printed nothing"
	if len(did) > 0 {
		what = strings.Join(did, " and ")
	}
	return fmt.Sprintf("%s did not answer within %v (it %s); it was killed with the processes it started", clip.String(e.path), e.limit, what)
}

// maxProbeOutput bounds what a run keeps of a program's output: a probe
// prints one line, pyenv and uv a few.
const maxProbeOutput = 64 << 10

// runBounded runs name in a process group of its own, for at most limit
// and within ctx, and returns what it printed. When the limit passes, the
// whole group is killed (a shim's child holding the output open goes
// with it) and the error is a *noAnswerError; when ctx ends first, the
// error wraps ctx's. Whatever the program left running is killed as it
// exits. env is its whole environment (nil: this process's).
func runBounded(ctx context.Context, limit time.Duration, env []string, name string, args ...string) (stdout, stderr []byte, err error) {
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := procgroup.Command(rctx, waitDelay, name, args...)
	cmd.Env = env
	out, errOut := &capped{max: maxProbeOutput}, &capped{max: maxProbeOutput}
	cmd.Stdout, cmd.Stderr = out, errOut
	err = procgroup.Run(cmd)
	switch {
	case ctx.Err() != nil:
		return nil, nil, fmt.Errorf("%s had not answered: %w", clip.String(name), context.Cause(ctx))
	case rctx.Err() != nil:
		return nil, nil, &noAnswerError{path: name, limit: limit, stdout: out.buf, stderr: errOut.buf}
	case errors.Is(err, exec.ErrWaitDelay):
		// It exited with status 0, having said what it had to; only a
		// process outside its group held the output open.
		err = nil
	}
	return out.buf, errOut.buf, err
}

// capped keeps the first max bytes written to it and drops the rest.
type capped struct {
	buf []byte
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
