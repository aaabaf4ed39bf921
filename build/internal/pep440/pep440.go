// Package pep440 parses and compares Python package versions as PEP 440
// defines them. The lock (pins and environment markers) and wheel
// filenames must agree on what a version is and when two spellings are the
// same version ("1.0" and "1.0.0", "1.0-1" and "1.0.post1"); keeping one
// parser means a pin can never match a file in one place and not another.
//
// Numbers are kept as decimal strings, so no version overflows: pip reads
// them as unbounded integers too.
package pep440

import (
	"cmp"
	"errors"
	"regexp"
	"strings"
)

// Version is a parsed PEP 440 version. The zero Version is not a valid
// version; get one from Parse or ParsePrefix.
type Version struct {
	epoch   string   // decimal, no leading zeros
	release []string // as many numbers as written, each without leading zeros
	pre     int      // preNone, preAlpha, preBeta or preRC
	preN    string
	post    string // "" when there is no post-release
	dev     string // "" when there is no dev-release
	local   []string
}

// Pre-release kinds, in PEP 440 order.
const (
	preNone = iota
	preAlpha
	preBeta
	preRC
)

// pattern is the version grammar of PEP 440's appendix, with the
// alternative spellings it allows (any case, optional separators, a
// leading v, implicit numbers). Surrounding whitespace is the caller's
// business: a wheel filename may not hold any.
var pattern = regexp.MustCompile(`(?i)^v?` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?` +
	`(?:-(?P<post_n1>[0-9]+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?)?` +
	`(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?` +
	`(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`)

// Errors do not repeat the text parsed: every caller names it where it
// knows more (the lock line, the marker, the wheel filename).
var (
	errSyntax = errors.New("not a PEP 440 version")
	errPrefix = errors.New("not a version prefix (a wildcard is RELEASE.*, like 3.12.*)")
)

// Parse parses a PEP 440 version in any spelling the PEP allows.
func Parse(s string) (Version, error) {
	m := pattern.FindStringSubmatch(s)
	if m == nil {
		return Version{}, errSyntax
	}
	group := func(name string) string { return m[pattern.SubexpIndex(name)] }
	v := Version{epoch: trimZeros(group("epoch"))}
	for _, n := range strings.Split(group("release"), ".") {
		v.release = append(v.release, trimZeros(n))
	}
	if l := strings.ToLower(group("pre_l")); l != "" {
		switch l {
		case "a", "alpha":
			v.pre = preAlpha
		case "b", "beta":
			v.pre = preBeta
		default: // c, rc, pre, preview
			v.pre = preRC
		}
		v.preN = trimZeros(group("pre_n"))
	}
	switch {
	case group("post_n1") != "":
		v.post = trimZeros(group("post_n1"))
	case group("post_l") != "":
		v.post = trimZeros(group("post_n2"))
	}
	if group("dev_l") != "" {
		v.dev = trimZeros(group("dev_n"))
	}
	if l := group("local"); l != "" {
		for _, seg := range strings.FieldsFunc(strings.ToLower(l), isLocalSep) {
			if isDigits(seg) {
				seg = trimZeros(seg)
			}
			v.local = append(v.local, seg)
		}
	}
	return v, nil
}

// ParsePrefix parses the operand of a prefix match (==3.12.*, !=3.*):
// an optional epoch and a release, followed by ".*". It returns the
// prefix as a Version for HasPrefix.
func ParsePrefix(s string) (Version, error) {
	rest, ok := strings.CutSuffix(s, ".*")
	if !ok {
		return Version{}, errPrefix
	}
	v, err := Parse(rest)
	if err != nil || v.pre != preNone || v.post != "" || v.dev != "" || v.local != nil {
		return Version{}, errPrefix
	}
	return v, nil
}

// Equal reports whether a and b are both versions and PEP 440 says they
// are the same version.
func Equal(a, b string) bool {
	va, err := Parse(a)
	if err != nil {
		return false
	}
	vb, err := Parse(b)
	return err == nil && va.Compare(vb) == 0
}

// Compare orders v and o as PEP 440 does, returning -1, 0 or +1: by
// epoch, then release (trailing zeros do not count), then dev-release of
// a final version < pre-releases < final < post-releases, with a
// dev-release before the version it leads to, then the local label (none
// < any; numeric segments above alphanumeric ones).
func (v Version) Compare(o Version) int {
	if c := cmpNum(v.epoch, o.epoch); c != 0 {
		return c
	}
	for i := range max(len(v.release), len(o.release)) {
		if c := cmpNum(at(v.release, i), at(o.release, i)); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(v.preRank(), o.preRank()); c != 0 {
		return c
	}
	if c := cmpNum(v.preN, o.preN); c != 0 {
		return c
	}
	if c := cmpOptional(v.post, o.post, -1); c != 0 {
		return c
	}
	if c := cmpOptional(v.dev, o.dev, +1); c != 0 {
		return c
	}
	return compareLocal(v.local, o.local)
}

// preRank places what follows the release: a dev-release of a final
// version (1.0.dev0) before its pre-releases, a final or post-release
// after them.
func (v Version) preRank() int {
	switch {
	case v.pre != preNone:
		return v.pre
	case v.post == "" && v.dev != "":
		return preNone - 1
	}
	return preRC + 1
}

// cmpOptional compares two optional numbers ("" when absent); absent sorts
// as absent, -1 below every number or +1 above.
func cmpOptional(a, b string, absent int) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return absent
	case b == "":
		return -absent
	}
	return cmpNum(a, b)
}

// compareLocal orders local labels as PEP 440 does: a version without one
// sorts first, numeric segments compare as numbers and above alphanumeric
// ones, which compare as (lower-case) strings, and a label that is a
// prefix of another sorts first.
func compareLocal(a, b []string) int {
	for i := range min(len(a), len(b)) {
		x, y := a[i], b[i]
		dx, dy := isDigits(x), isDigits(y)
		var c int
		switch {
		case dx && dy:
			c = cmpNum(x, y)
		case dx:
			c = 1
		case dy:
			c = -1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// HasPrefix reports whether v matches the prefix p (==p.*): v has p's
// epoch and v's release, padded with zeros, starts with p's release.
// What follows v's release (pre-, post-, dev-release, local label) does
// not matter; only p's epoch and release are read.
func (v Version) HasPrefix(p Version) bool {
	if cmpNum(v.epoch, p.epoch) != 0 {
		return false
	}
	for i, n := range p.release {
		if cmpNum(at(v.release, i), n) != 0 {
			return false
		}
	}
	return true
}

// ReleaseLen returns how many numbers v's release has as written: 2 for
// "3.12", 3 for "3.12.0".
func (v Version) ReleaseLen() int { return len(v.release) }

// ReleaseAt returns release number i of v as a decimal string without
// leading zeros: "4" for i=2 of "3.12.4"; "0" past the numbers written.
func (v Version) ReleaseAt(i int) string { return at(v.release, i) }

// Prefix returns v's epoch and the first n numbers of its release (all of
// them when n is larger), as a prefix for HasPrefix: ~=3.10.2 means
// >=3.10.2 and a match of the prefix 3.10.
func (v Version) Prefix(n int) Version {
	n = max(0, min(n, len(v.release)))
	return Version{epoch: v.epoch, release: v.release[:n:n]}
}

// Canonical returns the form under which two versions are equal exactly
// when Compare says so: the normalized form with trailing zeros of the
// release dropped ("1.0.0" and "1.0" are both "1", "1.0-1" is "1.post1").
// It is what pypa packaging's canonicalize_version returns.
func (v Version) Canonical() string {
	rel := v.release
	for len(rel) > 1 && rel[len(rel)-1] == "0" {
		rel = rel[:len(rel)-1]
	}
	return v.format(rel)
}

// String returns the normalized PEP 440 spelling of v, keeping the release
// as written: "V1.0-1" is "1.0.post1".
func (v Version) String() string { return v.format(v.release) }

func (v Version) format(release []string) string {
	if len(release) == 0 {
		return "" // the zero Version
	}
	var b strings.Builder
	if v.epoch != "0" && v.epoch != "" {
		b.WriteString(v.epoch + "!")
	}
	b.WriteString(strings.Join(release, "."))
	if v.pre != preNone {
		b.WriteString([...]string{preAlpha: "a", preBeta: "b", preRC: "rc"}[v.pre] + v.preN)
	}
	if v.post != "" {
		b.WriteString(".post" + v.post)
	}
	if v.dev != "" {
		b.WriteString(".dev" + v.dev)
	}
	if v.local != nil {
		b.WriteString("+" + strings.Join(v.local, "."))
	}
	return b.String()
}

// at returns release number i, with missing trailing numbers as 0.
func at(release []string, i int) string {
	if i < len(release) {
		return release[i]
	}
	return "0"
}

// cmpNum compares two decimal numbers without leading zeros.
func cmpNum(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
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

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func isLocalSep(r rune) bool { return r == '-' || r == '_' || r == '.' }
