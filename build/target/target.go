// Package target names what a Lambda artifact is built for: the Python
// runtimes and the instruction-set architecture, and the facts about the
// Lambda execution environment that follow from them (glibc version,
// machine name).
//
// The facts are data, not logic spread through the builder: a runtime's
// glibc comes from the Amazon Linux release Lambda runs it on.
package target

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxUnzippedBytes is Lambda's limit on a function and all its layers,
// unzipped: 250 MiB.
const MaxUnzippedBytes = 262_144_000

// MaxLayers is how many layers Lambda lets one function use.
const MaxLayers = 5

// Runtime is one Lambda Python runtime, python3.<Minor>.
type Runtime struct {
	Minor int
}

// Glibc is a GNU C library version, as manylinux tags name it.
type Glibc struct {
	Major, Minor int
}

// String formats g as "2.26".
func (g Glibc) String() string { return fmt.Sprintf("%d.%d", g.Major, g.Minor) }

// AtMost reports whether g <= o.
func (g Glibc) AtMost(o Glibc) bool {
	return g.Major < o.Major || (g.Major == o.Major && g.Minor <= o.Minor)
}

// runtimeOS is what Lambda runs each supported runtime on. python3.9 to
// python3.11 run on Amazon Linux 2 (glibc 2.26); python3.12 and later on
// Amazon Linux 2023 (glibc 2.34).
var runtimeOS = map[int]struct {
	os    string
	glibc Glibc
}{
	9:  {"Amazon Linux 2", Glibc{2, 26}},
	10: {"Amazon Linux 2", Glibc{2, 26}},
	11: {"Amazon Linux 2", Glibc{2, 26}},
	12: {"Amazon Linux 2023", Glibc{2, 34}},
	13: {"Amazon Linux 2023", Glibc{2, 34}},
	14: {"Amazon Linux 2023", Glibc{2, 34}},
}

// SupportedRuntimes lists the runtime names this builder knows, oldest first.
func SupportedRuntimes() []string {
	var out []string
	for m := range runtimeOS {
		out = append(out, Runtime{m}.String())
	}
	slices.SortFunc(out, func(a, b string) int {
		ra, _ := ParseRuntime(a)
		rb, _ := ParseRuntime(b)
		return ra.Minor - rb.Minor
	})
	return out
}

// ParseRuntime parses a Lambda runtime identifier such as "python3.12".
func ParseRuntime(s string) (Runtime, error) {
	rest, ok := strings.CutPrefix(s, "python3.")
	if !ok {
		return Runtime{}, fmt.Errorf("runtime %q: want python3.X (one of %s)", s, strings.Join(SupportedRuntimes(), ", "))
	}
	minor, err := strconv.Atoi(rest)
	if err != nil || strconv.Itoa(minor) != rest {
		return Runtime{}, fmt.Errorf("runtime %q: want python3.X (one of %s)", s, strings.Join(SupportedRuntimes(), ", "))
	}
	if _, ok := runtimeOS[minor]; !ok {
		return Runtime{}, fmt.Errorf("runtime %q is not a Lambda Python runtime this builder supports (one of %s)", s, strings.Join(SupportedRuntimes(), ", "))
	}
	return Runtime{Minor: minor}, nil
}

// String returns the Lambda identifier, e.g. "python3.12".
func (r Runtime) String() string { return "python3." + strconv.Itoa(r.Minor) }

// Version returns the Python version as markers spell it, e.g. "3.12".
func (r Runtime) Version() string { return "3." + strconv.Itoa(r.Minor) }

// CPTag returns the CPython interpreter tag, e.g. "cp312".
func (r Runtime) CPTag() string { return "cp3" + strconv.Itoa(r.Minor) }

// Glibc returns the glibc of the Amazon Linux release Lambda runs r on.
func (r Runtime) Glibc() Glibc { return runtimeOS[r.Minor].glibc }

// OS names the Amazon Linux release Lambda runs r on.
func (r Runtime) OS() string { return runtimeOS[r.Minor].os }

// SitePackages is the folder, relative to the layer root, that Lambda puts
// on sys.path for r only: python/lib/python3.X/site-packages.
func (r Runtime) SitePackages() string {
	return "python/lib/python" + r.Version() + "/site-packages"
}

// Arch is a Lambda instruction-set architecture.
type Arch string

// The two architectures Lambda offers.
const (
	X86_64 Arch = "x86_64"
	ARM64  Arch = "arm64"
)

// ParseArch parses a Lambda architecture name ("x86_64" or "arm64").
func ParseArch(s string) (Arch, error) {
	switch Arch(s) {
	case X86_64, ARM64:
		return Arch(s), nil
	}
	return "", fmt.Errorf("architecture %q: want x86_64 or arm64", s)
}

// Machine returns the machine name that wheel platform tags and the
// platform_machine marker use: x86_64 or aarch64.
func (a Arch) Machine() string {
	if a == ARM64 {
		return "aarch64"
	}
	return "x86_64"
}

// Target is what one artifact is built for: one or more runtimes on one
// architecture.
type Target struct {
	Runtimes []Runtime // sorted oldest first, no duplicates
	Arch     Arch
}

// New validates runtime names and an architecture and returns the Target,
// with the runtimes sorted and de-duplicated so that equal targets compare
// and hash equal however they were spelled on the command line.
func New(runtimes []string, arch string) (Target, error) {
	if len(runtimes) == 0 {
		return Target{}, fmt.Errorf("no runtime given: want at least one of %s", strings.Join(SupportedRuntimes(), ", "))
	}
	a, err := ParseArch(arch)
	if err != nil {
		return Target{}, err
	}
	var rs []Runtime
	for _, s := range runtimes {
		r, err := ParseRuntime(s)
		if err != nil {
			return Target{}, err
		}
		rs = append(rs, r)
	}
	return Target{Runtimes: rs, Arch: a}.Canonical(), nil
}

// Canonical returns t with its runtimes sorted oldest first and without
// duplicates, so that a Target built by hand hashes like the equal one New
// returns.
func (t Target) Canonical() Target {
	rs := slices.Clone(t.Runtimes)
	slices.SortFunc(rs, func(a, b Runtime) int { return a.Minor - b.Minor })
	return Target{Runtimes: slices.Compact(rs), Arch: t.Arch}
}

// String formats t canonically, e.g. "python3.11,python3.12/x86_64". The
// layer key hashes this text, so its format is part of the key's format.
func (t Target) String() string {
	names := make([]string, len(t.Runtimes))
	for i, r := range t.Runtimes {
		names[i] = r.String()
	}
	return strings.Join(names, ",") + "/" + string(t.Arch)
}
