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
	// A wheel's name component after PEP 491 escaping: runs of anything but
	// letters, digits and '.' became one '_'. Dots are allowed because an
	// earlier version of the spec kept them.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?$`)
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
		return Filename{}, fmt.Errorf("wheel filename %q contains a path separator; give the file name only", s)
	}
	lower := strings.ToLower(s)
	for _, suf := range sdistSuffixes {
		if strings.HasSuffix(lower, suf) {
			return Filename{}, fmt.Errorf("%s is a source distribution; only wheels are used", s)
		}
	}
	if strings.HasSuffix(lower, ".egg") {
		return Filename{}, fmt.Errorf("%s is an egg; only wheels are used", s)
	}
	stem, ok := strings.CutSuffix(s, ".whl")
	if !ok {
		return Filename{}, fmt.Errorf("%q is not a wheel: a wheel filename ends in .whl", s)
	}
	parts := strings.Split(stem, "-")
	if len(parts) != 5 && len(parts) != 6 {
		return Filename{}, fmt.Errorf("wheel filename %q has %d dash-separated parts, want 5 or 6: name-version[-build]-python-abi-platform.whl (a dash inside the name must be escaped as _)", s, len(parts))
	}
	roles := []string{"name", "version", "build tag", "python tag", "ABI tag", "platform tag"}
	if len(parts) == 5 {
		roles = append(roles[:2], roles[3:]...)
	}
	for i, p := range parts {
		if p == "" {
			return Filename{}, fmt.Errorf("wheel filename %q: empty %s", s, roles[i])
		}
	}
	f := Filename{Raw: s, Version: parts[1]}
	if !nameRE.MatchString(parts[0]) || strings.Contains(parts[0], "__") {
		return Filename{}, fmt.Errorf("wheel filename %q: %q is not a valid escaped distribution name", s, parts[0])
	}
	f.Name = NormalizeName(parts[0])
	if _, ok := canonicalVersion(parts[1]); !ok {
		return Filename{}, fmt.Errorf("wheel filename %q: version %q is not a PEP 440 version", s, parts[1])
	}
	tags := parts[2:]
	if len(parts) == 6 {
		if !buildRE.MatchString(parts[2]) {
			return Filename{}, fmt.Errorf("wheel filename %q: build tag %q must start with a digit and hold only letters, digits, '_' and '.'", s, parts[2])
		}
		f.Build = parts[2]
		tags = parts[3:]
	}
	sets := make([][]string, 3)
	for i, set := range tags {
		for _, t := range strings.Split(set, ".") {
			if t == "" {
				return Filename{}, fmt.Errorf("wheel filename %q: empty tag in %s %q", s, roles[len(roles)-3+i], set)
			}
			if !tagRE.MatchString(t) {
				return Filename{}, fmt.Errorf("wheel filename %q: %s %q holds a character other than letters, digits and _", s, roles[len(roles)-3+i], t)
			}
			// Tags are case-insensitive; packaging.tags compares them in
			// lower case.
			sets[i] = append(sets[i], strings.ToLower(t))
		}
	}
	f.Python, f.ABI, f.Platform = sets[0], sets[1], sets[2]
	return f, nil
}

var nameSepRE = regexp.MustCompile(`[-_.]+`)

// NormalizeName returns the PEP 503 normalized form of a distribution name:
// lower case, with every run of '-', '_' and '.' replaced by one '-'.
func NormalizeName(s string) string {
	return nameSepRE.ReplaceAllString(strings.ToLower(s), "-")
}

// versionRE is the PEP 440 public+local version grammar, with the
// alternative spellings the PEP allows (case-insensitive, optional
// separators, implicit numbers).
var versionRE = regexp.MustCompile(`(?i)^v?` +
	`(?:([0-9]+)!)?` + // epoch
	`([0-9]+(?:\.[0-9]+)*)` + // release
	`(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?` + // pre
	`(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?` + // post
	`(?:[-_.]?(dev)[-_.]?([0-9]+)?)?` + // dev
	`(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`) // local

// canonicalVersion returns a form of a PEP 440 version under which two
// spellings compare equal exactly when PEP 440 says the versions are equal
// ("1.0" and "1.0.0", "1.0-1" and "1.0.post1"), and whether s is a PEP 440
// version at all. Numbers stay strings so that no version overflows.
func canonicalVersion(s string) (string, bool) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	var b strings.Builder
	if e := trimZeros(m[1]); e != "" && e != "0" {
		b.WriteString(e + "!")
	}
	rel := strings.Split(m[2], ".")
	for i := range rel {
		rel[i] = trimZeros(rel[i])
	}
	// Trailing zero components do not change a version (1.0 == 1.0.0).
	for len(rel) > 1 && rel[len(rel)-1] == "0" {
		rel = rel[:len(rel)-1]
	}
	b.WriteString(strings.Join(rel, "."))
	if m[3] != "" {
		switch strings.ToLower(m[3]) {
		case "alpha", "a":
			b.WriteString("a")
		case "beta", "b":
			b.WriteString("b")
		default: // c, rc, pre, preview
			b.WriteString("rc")
		}
		b.WriteString(trimZeros(m[4]))
	}
	switch {
	case m[5] != "":
		b.WriteString(".post" + trimZeros(m[5]))
	case m[6] != "":
		b.WriteString(".post" + trimZeros(m[7]))
	}
	if m[8] != "" {
		b.WriteString(".dev" + trimZeros(m[9]))
	}
	if m[10] != "" {
		segs := nameSepRE.Split(strings.ToLower(m[10]), -1)
		for i, seg := range segs {
			if strings.Trim(seg, "0123456789") == "" {
				segs[i] = trimZeros(seg)
			}
		}
		b.WriteString("+" + strings.Join(segs, "."))
	}
	return b.String(), true
}

// trimZeros strips leading zeros from a decimal number, keeping one digit;
// an absent number is 0, as PEP 440 reads "1.0a" as "1.0a0".
func trimZeros(n string) string {
	n = strings.TrimLeft(n, "0")
	if n == "" {
		return "0"
	}
	return n
}
