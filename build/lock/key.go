package lock

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/target"
)

// keyFormat is the first line of the canonical text. Change it whenever
// the builder's output for the same lock and target changes, so that
// every layer is rebuilt.
const keyFormat = "lambdapack layer key v2"

// Options are the build settings, besides the target, that change an
// artifact's bytes; each is a line of the key's canonical text. The zero
// value is the default build.
type Options struct {
	// NoBytecode leaves out the .pyc files a build otherwise compiles for
	// each runtime (lambdapack --no-bytecode).
	NoBytecode bool
}

// Line is the canonical text's line for o, e.g. "bytecode on". It is
// computed without any interpreter: the key says whether bytecode ships,
// not which patch release compiled it.
func (o Options) Line() string {
	if o.NoBytecode {
		return "bytecode off"
	}
	return "bytecode on"
}

// Applied is a requirement that applies to at least one runtime of a
// target.
type Applied struct {
	Requirement
	Runtimes []target.Runtime // the target's runtimes whose marker is true, oldest first
}

// For returns the requirements that apply to t, each with the runtimes of
// t it applies to, in the lock's order (by name; a package's lines in file
// order). A requirement whose marker is false for every runtime of t is
// left out. A lock Check refused for t gives no meaningful answer (an
// undecided marker counts as false here).
func (l *Lock) For(t target.Target) []Applied {
	t = t.Canonical()
	var out []Applied
	for _, req := range l.Requirements {
		// One Applied per set of digests: a constraint (-c) may narrow
		// them on some runtimes only. Without constraints there is one.
		var groups []Applied
		for _, r := range t.Runtimes {
			if ok, err := req.Marker.Eval(r, t.Arch); !ok || err != nil {
				continue
			}
			hashes := l.hashesOn(req, r, t.Arch)
			i := slices.IndexFunc(groups, func(a Applied) bool { return slices.Equal(a.Hashes, hashes) })
			if i < 0 {
				a := Applied{Requirement: req}
				a.Hashes = hashes
				groups, i = append(groups, a), len(groups)
			}
			groups[i].Runtimes = append(groups[i].Runtimes, r)
		}
		out = append(out, groups...)
	}
	return out
}

// Canonical returns the text the layer key hashes: the key format, the
// target, the build options, then one line per requirement that applies to
// t, sorted by normalized name:
//
//	lambdapack layer key v2
//	target python3.11,python3.12/x86_64
//	bytecode on
//	numpy==2.1.3 sha256:016d...,sha256:0213...
//	tomli==2.0.1 sha256:939d... [python3.9,python3.10]
//
// The runtimes in brackets appear only when a marker limits the
// requirement to some of the target's runtimes. Nothing about how the
// file was written (comments, order, spelling, continuations, its path)
// is in the text, so only a change to what would be installed changes
// the key.
func Canonical(l *Lock, t target.Target, o Options) string {
	t = t.Canonical()
	var lines []string
	for _, a := range l.For(t) {
		hashes := slices.Clone(a.Hashes)
		slices.Sort(hashes)
		hashes = slices.Compact(hashes)
		var b strings.Builder
		b.WriteString(a.Name + "==" + a.Version + " ")
		for i, h := range hashes {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("sha256:" + strings.ToLower(h))
		}
		if len(a.Runtimes) < len(t.Runtimes) {
			names := make([]string, len(a.Runtimes))
			for i, r := range a.Runtimes {
				names[i] = r.String()
			}
			b.WriteString(" [" + strings.Join(names, ",") + "]")
		}
		lines = append(lines, b.String())
	}
	// Sort by name first ("foo" before "foo-bar", whose '-' sorts before
	// '='), then by the whole line for locks not made by Parse.
	slices.SortFunc(lines, func(x, y string) int {
		nx, _, _ := strings.Cut(x, "==")
		ny, _, _ := strings.Cut(y, "==")
		return cmp.Or(cmp.Compare(nx, ny), cmp.Compare(x, y))
	})
	var b strings.Builder
	b.WriteString(keyFormat + "\n")
	b.WriteString("target " + t.String() + "\n")
	b.WriteString(o.Line() + "\n")
	for _, line := range lines {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// Key returns the layer key of lock l built for t with o: the lowercase
// hex sha256 of Canonical(l, t, o). It needs no network and no files, so a
// preview can compute it and compare it with the deployed layer's.
func Key(l *Lock, t target.Target, o Options) string {
	sum := sha256.Sum256([]byte(Canonical(l, t, o)))
	return hex.EncodeToString(sum[:])
}

// KeyFile reads the lock at path and returns its key for t with o.
func KeyFile(path string, t target.Target, o Options) (string, error) {
	l, err := ReadFile(path)
	if err != nil {
		return "", err
	}
	return Key(l, t, o), nil
}
