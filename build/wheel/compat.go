package wheel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/target"
)

// Fit is whether a wheel runs on one Lambda runtime and architecture.
type Fit struct {
	// OK is true when the wheel installs and imports on the runtime.
	OK bool
	// Reason says why the wheel does not fit, as a sentence a person can
	// act on; empty when OK.
	Reason string
	// Rank orders fitting wheels, higher meaning more specific to the
	// runtime, as pip would prefer them: the interpreter/ABI pair dominates
	// (cpXY-cpXY, then cpXY-abi3 by XY, cpXY-none, pyXY-none by XY,
	// py3-none), then the platform (the highest fitting glibc, then any).
	// Zero when not OK.
	Rank int
}

// Rank weights: an interpreter/ABI score times interpWeight plus a platform
// score below interpWeight, so that the interpreter always dominates.
const (
	interpWeight = 1000

	rankCPExact = 1000 // cpXY-cpXY
	rankABI3    = 500  // + XY minor: cpXY-abi3
	rankCPNone  = 400  // cpXY-none
	rankPyMinor = 200  // + XY minor: pyXY-none
	rankPy3     = 100  // py3-none
)

// How near a failing wheel came to fitting. Errors list the nearest
// candidates first so that the useful reason is not buried under a page of
// macOS and Windows wheels.
const (
	nearPlatform = iota // wrong OS, libc or architecture
	nearImpl            // right platform, wrong interpreter kind (PyPy, debug, Python 2, ...)
	nearVersion         // right platform and kind, wrong Python version
	nearGlibc           // only the glibc requirement is too new
	nearFits
)

// Fit reports whether f runs on runtime r on architecture a.
func (f Filename) Fit(r target.Runtime, a target.Arch) Fit {
	fit, _ := f.fit(r, a)
	return fit
}

// FitTarget reports whether f runs on every runtime of t. The reason names
// each runtime f does not fit, grouping runtimes that fail for the same
// reason: "python3.11: manylinux_2_28 needs glibc 2.28; ...".
func (f Filename) FitTarget(t target.Target) (ok bool, reason string) {
	if len(t.Runtimes) == 0 {
		return false, "target " + t.String() + " names no runtime"
	}
	var reasons []string           // distinct reasons, in runtime order
	names := map[string][]string{} // reason -> runtimes failing for it
	for _, r := range t.Runtimes {
		fit := f.Fit(r, t.Arch)
		if fit.OK {
			continue
		}
		if _, seen := names[fit.Reason]; !seen {
			reasons = append(reasons, fit.Reason)
		}
		names[fit.Reason] = append(names[fit.Reason], r.String())
	}
	if len(reasons) == 0 {
		return true, ""
	}
	parts := make([]string, len(reasons))
	for i, why := range reasons {
		parts[i] = strings.Join(names[why], ", ") + ": " + why
	}
	return false, strings.Join(parts, "; ")
}

// fit is Fit plus how near a failing wheel came, for ordering errors.
func (f Filename) fit(r target.Runtime, a target.Arch) (Fit, int) {
	if r.OS() == "" {
		return Fit{Reason: r.String() + " is not a Lambda Python runtime this builder knows"}, nearPlatform
	}
	if a != target.X86_64 && a != target.ARM64 {
		return Fit{Reason: fmt.Sprintf("architecture %q is not a Lambda architecture (x86_64 or arm64)", string(a))}, nearPlatform
	}
	if len(f.Python) == 0 || len(f.ABI) == 0 || len(f.Platform) == 0 {
		return Fit{Reason: fmt.Sprintf("wheel %s has no tags (was it made by ParseFilename?)", clip.Quote(f.Raw))}, nearPlatform
	}
	// A compressed tag set stands for every combination of its parts; the
	// wheel fits if one combination does, and the best one counts.
	plat := bestPlatform(f.Platform, r, a)
	interp := bestInterpreter(f.Python, f.ABI, r)
	switch {
	case !plat.ok && !plat.kindOK:
		// The wrong OS or architecture makes the interpreter moot.
		return Fit{Reason: plat.reason}, nearPlatform
	case !interp.ok:
		return Fit{Reason: interp.reason}, interp.near
	case !plat.ok:
		return Fit{Reason: plat.reason}, nearGlibc
	}
	return Fit{OK: true, Rank: interp.rank*interpWeight + plat.score}, nearFits
}

// interpFit is how one python/ABI tag pair fits a runtime.
type interpFit struct {
	ok     bool
	rank   int
	near   int
	reason string
}

func bestInterpreter(pys, abis []string, r target.Runtime) interpFit {
	var best, nearest interpFit
	nearest.near = -1
	for _, py := range pys {
		for _, abi := range abis {
			fit := interpreterFit(py, abi, r)
			switch {
			case fit.ok && (!best.ok || fit.rank > best.rank):
				best = fit
			case !fit.ok && fit.near > nearest.near:
				nearest = fit
			}
		}
	}
	if best.ok {
		return best
	}
	return nearest
}

// splitTag splits an interpreter tag like "cp312" or an ABI tag like
// "cp313t" into its letters, its digits and any letters after them.
func splitTag(t string) (impl, digits, suffix string) {
	i := strings.IndexFunc(t, func(c rune) bool { return c >= '0' && c <= '9' })
	if i < 0 {
		return t, "", ""
	}
	j := i + strings.IndexFunc(t[i:], func(c rune) bool { return c < '0' || c > '9' })
	if j < i {
		j = len(t)
	}
	return t[:i], t[i:j], t[j:]
}

// pyVersion reads the py_version_nodot of a tag: "312" is 3.12, "3" is
// Python 3 with no minor (minor -1).
func pyVersion(digits string) (major, minor int, ok bool) {
	if digits == "" {
		return 0, 0, false
	}
	major = int(digits[0] - '0')
	if len(digits) == 1 {
		return major, -1, true
	}
	minor, err := strconv.Atoi(digits[1:])
	if err != nil || minor > 999 {
		return 0, 0, false
	}
	return major, minor, true
}

func interpreterFit(py, abi string, r target.Runtime) interpFit {
	no := func(near int, format string, args ...any) interpFit {
		return interpFit{near: near, reason: fmt.Sprintf(format, clip.Args(args)...)}
	}
	unusable := func() interpFit {
		return no(nearImpl, "%s-%s is not a tag CPython on %s loads (want %s, abi3 or py3)", py, abi, r, r.CPTag())
	}
	impl, digits, rest := splitTag(py)
	major, minor, verOK := pyVersion(digits)
	if rest != "" || !verOK {
		if impl == "cp" || impl == "py" {
			return unusable()
		}
	}
	switch impl {
	case "cp", "py":
	case "pp":
		return no(nearImpl, "%s wheel is for PyPy; Lambda runs CPython", py)
	case "graalpy", "gp":
		return no(nearImpl, "%s wheel is for GraalPy; Lambda runs CPython", py)
	case "ip":
		return no(nearImpl, "%s wheel is for IronPython; Lambda runs CPython", py)
	case "jy":
		return no(nearImpl, "%s wheel is for Jython; Lambda runs CPython", py)
	default:
		return no(nearImpl, "interpreter tag %s is not CPython or generic Python; Lambda runs CPython", py)
	}
	if major != 3 {
		return no(nearImpl, "%s wheel is for Python %d; runtime %s is Python 3", py, major, r)
	}

	if impl == "py" {
		if abi != "none" {
			return unusable()
		}
		if minor < 0 {
			return interpFit{ok: true, rank: rankPy3}
		}
		if minor > r.Minor {
			return no(nearVersion, "%s wheel needs Python 3.%d or later; runtime is %s", py, minor, r)
		}
		return interpFit{ok: true, rank: rankPyMinor + minor}
	}

	// CPython: the interpreter tag names one minor version.
	if minor < 0 {
		return unusable()
	}
	mismatch := func() interpFit {
		return no(nearVersion, "%s wheel, runtime %s needs %s or abi3", py, r, r.CPTag())
	}
	switch abi {
	case "abi3":
		// The stable ABI exists from CPython 3.2 and is forward compatible.
		if minor < 2 {
			return no(nearImpl, "%s-abi3 is not a valid tag: the stable ABI starts at CPython 3.2", py)
		}
		if minor > r.Minor {
			return no(nearVersion, "%s-abi3 wheel needs CPython 3.%d or later; runtime is %s", py, minor, r)
		}
		return interpFit{ok: true, rank: rankABI3 + minor}
	case "none":
		if minor != r.Minor {
			return mismatch()
		}
		return interpFit{ok: true, rank: rankCPNone}
	}
	abiImpl, abiDigits, flags := splitTag(abi)
	if abiImpl != "cp" || abiDigits != digits {
		return unusable()
	}
	if minor != r.Minor {
		return mismatch()
	}
	switch {
	case flags == "":
		return interpFit{ok: true, rank: rankCPExact}
	case strings.Contains(flags, "d"):
		return no(nearImpl, "%s ABI is a debug build of CPython; Lambda runs the release build (%s)", abi, r.CPTag())
	case strings.Contains(flags, "t"):
		return no(nearImpl, "%s ABI is free-threaded CPython; Lambda runs the default build (%s)", abi, r.CPTag())
	}
	return unusable()
}

// platFit is how one platform tag fits a runtime and architecture.
type platFit struct {
	ok     bool
	score  int
	kindOK bool         // any, or manylinux for the right machine (glibc aside)
	glibc  target.Glibc // the manylinux glibc requirement, when kindOK
	reason string
}

func bestPlatform(plats []string, r target.Runtime, a target.Arch) platFit {
	var best platFit
	var fails []platFit
	for _, p := range plats {
		fit := platformFit(p, r, a)
		if fit.ok {
			if !best.ok || fit.score > best.score {
				best = fit
			}
			continue
		}
		fails = append(fails, fit)
	}
	if best.ok || len(fails) == 0 {
		return best
	}
	// A manylinux tag for the right machine is nearest; among those, the
	// lowest glibc requirement is what the runtime falls short of.
	var near []platFit
	for _, f := range fails {
		if f.kindOK {
			near = append(near, f)
		}
	}
	if len(near) == 0 {
		return fails[0]
	}
	return slices.MinFunc(near, func(x, y platFit) int {
		switch {
		case x.glibc == y.glibc:
			return 0
		case x.glibc.AtMost(y.glibc):
			return -1
		}
		return 1
	})
}

// legacyManylinux maps the manylinux policies named before PEP 600 to the
// glibc they require and the machines they were defined for.
var legacyManylinux = map[string]struct {
	glibc    target.Glibc
	machines []string // nil: any machine
}{
	"manylinux1":    {target.Glibc{Major: 2, Minor: 5}, []string{"x86_64", "i686"}},
	"manylinux2010": {target.Glibc{Major: 2, Minor: 12}, []string{"x86_64", "i686"}},
	"manylinux2014": {target.Glibc{Major: 2, Minor: 17}, nil},
}

// parseManylinux splits "manylinux_2_28_x86_64" or "manylinux2014_aarch64"
// into the policy ("manylinux_2_28", "manylinux2014"), the glibc it
// requires and the machine. ok is false for anything else.
func parseManylinux(p string) (policy string, glibc target.Glibc, machine string, ok bool, reason string) {
	if rest, found := strings.CutPrefix(p, "manylinux_"); found {
		f := strings.SplitN(rest, "_", 3)
		if len(f) != 3 || f[2] == "" {
			return "", glibc, "", false, ""
		}
		major, err1 := strconv.Atoi(f[0])
		minor, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || major < 0 || minor < 0 || f[0] != strconv.Itoa(major) || f[1] != strconv.Itoa(minor) {
			return "", glibc, "", false, ""
		}
		return "manylinux_" + f[0] + "_" + f[1], target.Glibc{Major: major, Minor: minor}, f[2], true, ""
	}
	policy, machine, found := strings.Cut(p, "_")
	legacy, known := legacyManylinux[policy]
	if !found || !known || machine == "" {
		return "", glibc, "", false, ""
	}
	if legacy.machines != nil && !slices.Contains(legacy.machines, machine) {
		return "", glibc, "", false, fmt.Sprintf("%s is not a valid tag: %s is defined only for %s", clip.String(p), policy, strings.Join(legacy.machines, " and "))
	}
	return policy, legacy.glibc, machine, true, ""
}

func platformFit(p string, r target.Runtime, a target.Arch) platFit {
	no := func(format string, args ...any) platFit {
		return platFit{reason: fmt.Sprintf(format, clip.Args(args)...)}
	}
	switch {
	case p == "any":
		return platFit{ok: true, kindOK: true}
	case strings.HasPrefix(p, "manylinux"):
		policy, glibc, machine, ok, reason := parseManylinux(p)
		if reason != "" {
			return no("%s", reason)
		}
		if !ok {
			return no("platform tag %s is not a valid manylinux tag (manylinux_X_Y_machine, manylinux2014_machine, ...)", p)
		}
		if machine != a.Machine() {
			return no("%s wheel; target architecture is %s (machine %s)", machine, a, a.Machine())
		}
		if !glibc.AtMost(r.Glibc()) {
			return platFit{kindOK: true, glibc: glibc,
				reason: fmt.Sprintf("%s needs glibc %s; %s runs on glibc %s (%s)", policy, glibc, r, r.Glibc(), r.OS())}
		}
		return platFit{ok: true, kindOK: true, glibc: glibc, score: 1 + glibc.Major*100 + glibc.Minor}
	case strings.HasPrefix(p, "musllinux_"):
		return no("musllinux wheels need musl libc; Lambda runs glibc")
	case strings.HasPrefix(p, "macosx_"):
		return no("macOS wheel; Lambda runs Linux")
	case p == "win32" || strings.HasPrefix(p, "win_"):
		return no("Windows wheel; Lambda runs Linux")
	case strings.HasPrefix(p, "linux_"):
		return no("%s is not a manylinux tag: the wheel was built for one machine and may not run on Lambda", p)
	case strings.HasPrefix(p, "ios_"):
		return no("iOS wheel; Lambda runs Linux")
	case strings.HasPrefix(p, "android_"):
		return no("Android wheel; Lambda runs Linux")
	}
	return no("platform tag %s is not one Lambda runs: want manylinux (glibc Linux) or any", p)
}
