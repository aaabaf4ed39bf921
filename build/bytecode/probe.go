package bytecode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

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

// probeTimeout bounds one run of a candidate interpreter: a healthy one
// answers in well under a second, and a hang must not stall the build.
const probeTimeout = 30 * time.Second

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

// probe runs path once and checks that it is CPython 3.<rt.Minor> with the
// final release's magic number.
func probe(ctx context.Context, rt target.Runtime, path string) (*Interpreter, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append(slices.Clone(interpreterArgs), "-c", probeScript)...)
	cmd.Env = interpreterEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s did not answer within %s", path, probeTimeout)
		}
		msg := lastLine(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("%s does not run: %v", path, err)
		}
		return nil, fmt.Errorf("%s does not run: %v: %s", path, err, msg)
	}
	f := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\t")
	if len(f) != 5 {
		return nil, fmt.Errorf("%s is not a CPython 3 interpreter (it printed %q)", path, truncate(stdout.String(), 200))
	}
	impl, version, magicHex, cacheTag, exe := f[0], f[1], f[2], f[3], f[4]
	if impl != "cpython" {
		return nil, fmt.Errorf("%s is %s %s, not CPython: its bytecode is not what the Lambda runtime reads", path, impl, version)
	}
	if !strings.HasPrefix(version, rt.Version()+".") {
		return nil, fmt.Errorf("%s is Python %s, not %s", path, version, rt.Version())
	}
	magic, err := parseMagic(magicHex)
	if err != nil {
		return nil, fmt.Errorf("%s (Python %s) reports magic number %q: %v", path, version, magicHex, err)
	}
	want, ok := FinalMagic(rt)
	if !ok {
		return nil, fmt.Errorf("no final .pyc magic number is known for %s", rt)
	}
	if magic != want {
		return nil, fmt.Errorf("%s (Python %s) writes .pyc magic number %d, but %s final releases use %d: a pre-release's bytecode would be rejected by the Lambda runtime",
			path, version, magic, rt, want)
	}
	if wantTag := CacheTag(rt); cacheTag != wantTag {
		return nil, fmt.Errorf("%s (Python %s) has cache tag %q, want %q", path, version, cacheTag, wantTag)
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
	return truncate(s, 300)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
