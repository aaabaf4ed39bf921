package lock

import (
	"cmp"
	"errors"
	"math"
	"strconv"
	"strings"
)

// version is a PEP 440 version as far as markers need it: epoch, release,
// pre-, post- and dev-release. Local labels are accepted and ignored.
type version struct {
	epoch    int
	release  []int
	pre      int // 0 none; 1 a, 2 b, 3 rc
	preN     int
	post     int // -1 none
	dev      int // -1 none
	wildcard bool
	// latest marks the newest release starting with release: it is above
	// every version whose release starts the same way. It models a Lambda
	// runtime's python_full_version, whose patch release is not fixed.
	latest bool
}

// parseVersion parses a PEP 440 version; with wildcard, a trailing ".*"
// (a prefix match, for == and !=) is allowed too.
func parseVersion(s string, wildcard bool) (version, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutSuffix(s, ".*"); ok && wildcard {
		v, err := parseVersion(rest, false)
		if err != nil || v.pre != 0 || v.post >= 0 || v.dev >= 0 {
			return version{}, errors.New("not a version prefix (a wildcard is RELEASE.*)")
		}
		v.wildcard = true
		return v, nil
	}
	m := pep440.FindStringSubmatch(s)
	if m == nil {
		return version{}, errors.New("not a version (PEP 440)")
	}
	group := func(name string) string { return m[pep440.SubexpIndex(name)] }
	num := func(s string) (int, error) {
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, errors.New("version number out of range")
		}
		return n, nil
	}
	v := version{post: -1, dev: -1}
	var err error
	if v.epoch, err = num(group("epoch")); err != nil {
		return version{}, err
	}
	for _, p := range strings.Split(group("release"), ".") {
		n, err := num(p)
		if err != nil {
			return version{}, err
		}
		v.release = append(v.release, n)
	}
	if l := strings.ToLower(group("pre_l")); l != "" {
		switch l {
		case "a", "alpha":
			v.pre = 1
		case "b", "beta":
			v.pre = 2
		default: // rc, c, pre, preview
			v.pre = 3
		}
		if v.preN, err = num(group("pre_n")); err != nil {
			return version{}, err
		}
	}
	if group("post") != "" {
		if v.post, err = num(group("post_n1") + group("post_n2")); err != nil {
			return version{}, err
		}
	}
	if group("dev") != "" {
		if v.dev, err = num(group("dev_n")); err != nil {
			return version{}, err
		}
	}
	return v, nil
}

// at returns release number i, with missing trailing numbers as 0.
func at(release []int, i int) int {
	if i < len(release) {
		return release[i]
	}
	return 0
}

// compareVersions orders a and b as PEP 440 does: epoch, release (with
// trailing zeros insignificant), then dev < pre < final < post.
func compareVersions(a, b version) int {
	if c := cmp.Compare(a.epoch, b.epoch); c != 0 {
		return c
	}
	switch {
	case a.latest && !b.latest:
		return newestAbove(a.release, b.release)
	case b.latest && !a.latest:
		return -newestAbove(b.release, a.release)
	}
	for i := range max(len(a.release), len(b.release)) {
		if c := cmp.Compare(at(a.release, i), at(b.release, i)); c != 0 {
			return c
		}
	}
	ka, kb := a.suffixKey(), b.suffixKey()
	for i := range ka {
		if c := cmp.Compare(ka[i], kb[i]); c != 0 {
			return c
		}
	}
	return 0
}

// newestAbove compares the newest release starting with prefix against
// the version with release r.
func newestAbove(prefix, r []int) int {
	for i, p := range prefix {
		if c := cmp.Compare(p, at(r, i)); c != 0 {
			return c
		}
	}
	return 1
}

// suffixKey orders what follows the release: a dev release of a final
// version sorts before its pre-releases, a final version after them, and
// post-releases after the final version.
func (v version) suffixKey() [4]int {
	pre, preN := v.pre, v.preN
	switch {
	case pre == 0 && v.post < 0 && v.dev >= 0:
		pre = -1
	case pre == 0:
		pre = 4
	}
	dev := v.dev
	if dev < 0 {
		dev = math.MaxInt
	}
	return [4]int{pre, preN, v.post, dev}
}

// prefixMatch reports whether v's release starts with prefix's release,
// padding v with zeros, as PEP 440 prefix matching (==X.Y.*) does.
func prefixMatch(v, prefix version) bool {
	if v.epoch != prefix.epoch {
		return false
	}
	if v.latest && len(prefix.release) > len(v.release) {
		return false // the newest patch is not one named in advance
	}
	for i, p := range prefix.release {
		if at(v.release, i) != p {
			return false
		}
	}
	return true
}

// compareOp applies a version comparison operator.
func compareOp(op string, l, r version) bool {
	switch op {
	case "==":
		if r.wildcard {
			return prefixMatch(l, r)
		}
		return compareVersions(l, r) == 0
	case "!=":
		return !compareOp("==", l, r)
	case "<":
		return compareVersions(l, r) < 0
	case "<=":
		return compareVersions(l, r) <= 0
	case ">":
		return compareVersions(l, r) > 0
	case ">=":
		return compareVersions(l, r) >= 0
	case "~=":
		// ~=X.Y.Z means >=X.Y.Z and ==X.Y.*
		prefix := version{epoch: r.epoch, release: r.release[:len(r.release)-1]}
		return compareVersions(l, r) >= 0 && prefixMatch(l, prefix)
	}
	return false // unreachable: newCmp accepts only the operators above
}
