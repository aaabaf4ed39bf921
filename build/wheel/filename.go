// Package wheel parses wheel filenames (PEP 427, with PEP 491 escaping and
// PEP 425 compressed tag sets), decides whether a wheel runs on a Lambda
// Python runtime, and picks, among the files of one locked package version,
// the wheel each runtime of a target gets.
//
// Compatibility is data about the Lambda execution environment (see package
// target), applied the way pypa packaging.tags orders tags: a wheel fits a
// runtime when one of its tags names the runtime's CPython (or generic
// Python 3) and a platform Lambda can load. Every rejection carries a
// sentence a person can act on, because "no matching distribution" is what
// makes layer builds hard to debug.
package wheel

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/pep440"
	"github.com/galerly/galerly-lambda/build/internal/pyname"
)

// Filename is a parsed wheel filename:
// {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl.
type Filename struct {
	Raw      string   // the filename as given
	Name     string   // distribution name, PEP 503-normalized ("pillow-heif")
	Version  string   // version as spelled in the filename
	Build    string   // optional build tag; empty when absent
	Python   []string // python tags, lower case (["py2", "py3"] for "py2.py3")
	ABI      []string // ABI tags, lower case
	Platform []string // platform tags, lower case
}

// String returns the filename as given.
func (f Filename) String() string { return f.Raw }

// Tag returns the tag part of the filename, e.g. "py2.py3-none-any".
func (f Filename) Tag() string {
	return strings.Join(f.Python, ".") + "-" + strings.Join(f.ABI, ".") + "-" + strings.Join(f.Platform, ".")
}

// sdistSuffixes are the archive formats source distributions ship in; they
// get their own message because "not a wheel" would not say why an sdist
// that pip happily builds is refused here.
var sdistSuffixes = []string{".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"}

var (
	// Build tags start with a digit so tools can sort them numerically.
	buildRE = regexp.MustCompile(`^[0-9][A-Za-z0-9_.]*$`)
	tagRE   = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// ParseFilename parses a wheel filename. It refuses anything that is not
// unambiguously a wheel name (source distributions, eggs, paths, wrong
// number of parts, empty parts, invalid name, version, build tag or tags)
// with an error naming the filename, rather than guessing.
func ParseFilename(s string) (Filename, error) {
	if s == "" {
		return Filename{}, fmt.Errorf("wheel filename is empty")
	}
	if strings.ContainsAny(s, `/\`) {
		return Filename{}, fmt.Errorf("wheel filename %s contains a path separator; give the file name only", clip.Quote(s))
	}
	lower := strings.ToLower(s)
	for _, suf := range sdistSuffixes {
		if strings.HasSuffix(lower, suf) {
			return Filename{}, fmt.Errorf("%s is a source distribution; only wheels are used", clip.String(s))
		}
	}
	if strings.HasSuffix(lower, ".egg") {
		return Filename{}, fmt.Errorf("%s is an egg; only wheels are used", clip.String(s))
	}
	stem, ok := strings.CutSuffix(s, ".whl")
	if !ok {
		return Filename{}, fmt.Errorf("%s is not a wheel: a wheel filename ends in .whl", clip.Quote(s))
	}
	parts := strings.Split(stem, "-")
	if len(parts) != 5 && len(parts) != 6 {
		return Filename{}, fmt.Errorf("wheel filename %s has %d dash-separated parts, want 5 or 6: name-version[-build]-python-abi-platform.whl (a dash inside the name must be escaped as _)", clip.Quote(s), len(parts))
	}
	roles := []string{"name", "version", "build tag", "python tag", "ABI tag", "platform tag"}
	if len(parts) == 5 {
		roles = append(roles[:2], roles[3:]...)
	}
	for i, p := range parts {
		if p == "" {
			return Filename{}, fmt.Errorf("wheel filename %s: empty %s", clip.Quote(s), roles[i])
		}
	}
	f := Filename{Raw: s, Version: parts[1]}
	// The name after PEP 491 escaping: runs of anything but letters, digits
	// and '.' became one '_' (dots stay because an earlier version of the
	// spec kept them), so it is a valid project name with no '-' (the split
	// saw to that) and no "__".
	if !pyname.Valid(parts[0]) || strings.Contains(parts[0], "__") {
		return Filename{}, fmt.Errorf("wheel filename %s: %s is not a valid escaped distribution name", clip.Quote(s), clip.Quote(parts[0]))
	}
	f.Name = pyname.Normalize(parts[0])
	if _, err := pep440.Parse(parts[1]); err != nil {
		return Filename{}, fmt.Errorf("wheel filename %s: version %s is not a PEP 440 version", clip.Quote(s), clip.Quote(parts[1]))
	}
	tags := parts[2:]
	if len(parts) == 6 {
		if !buildRE.MatchString(parts[2]) {
			return Filename{}, fmt.Errorf("wheel filename %s: build tag %s must start with a digit and hold only letters, digits, '_' and '.'", clip.Quote(s), clip.Quote(parts[2]))
		}
		f.Build = parts[2]
		tags = parts[3:]
	}
	sets := make([][]string, 3)
	for i, set := range tags {
		for _, t := range strings.Split(set, ".") {
			if t == "" {
				return Filename{}, fmt.Errorf("wheel filename %s: empty tag in %s %s", clip.Quote(s), roles[len(roles)-3+i], clip.Quote(set))
			}
			if !tagRE.MatchString(t) {
				return Filename{}, fmt.Errorf("wheel filename %s: %s %s holds a character other than letters, digits and _", clip.Quote(s), roles[len(roles)-3+i], clip.Quote(t))
			}
			// Tags are case-insensitive; packaging.tags compares them in
			// lower case.
			sets[i] = append(sets[i], strings.ToLower(t))
		}
	}
	f.Python, f.ABI, f.Platform = sets[0], sets[1], sets[2]
	return f, nil
}

// IsVersion reports whether f is a file of version v, by PEP 440 equality:
// a lock pinning pkg==1.0 names the files of pkg 1.0.0 too, and a pin that
// is not a PEP 440 version names no file.
func (f Filename) IsVersion(v string) bool { return pep440.Equal(f.Version, v) }
