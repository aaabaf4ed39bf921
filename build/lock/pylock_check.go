package lock

import (
	"fmt"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/target"
)

// Check reports what makes the lock unusable for t, which only the target
// can tell. For a pylock.toml (PEP 751), for each runtime of t: the lock's
// environments and requires-python must admit it; and among the packages
// whose marker holds there, each must meet its requires-python, be
// installable from wheels (a pinned version, wheels with sha256 digests),
// and be the only entry of its name. A requirements file has nothing to
// check here. The error names the file, the line and the key path.
func (l *Lock) Check(t target.Target) error {
	if l.pylock == nil {
		return nil
	}
	t = t.Canonical()
	for _, rt := range t.Runtimes {
		if err := l.pylock.check(l.File, rt, t.Arch); err != nil {
			return err
		}
	}
	return nil
}

func (c *pylockChecks) check(file string, rt target.Runtime, arch target.Arch) error {
	env := fmt.Sprintf("%s/%s", rt, arch)
	if len(c.environments) > 0 {
		fits := false
		for _, m := range c.environments {
			fits = fits || m.Eval(rt, arch)
		}
		if !fits {
			return &Error{File: file, Line: c.environmentsLine, Err: clippedErrorf("environments: none of %s holds on %s: the lock was made for other environments", quoteAll(c.environmentsText), env)}
		}
	}
	if !c.requiresPython.evalOr(rt, arch, true) {
		return &Error{File: file, Line: c.requiresLine, Err: clippedErrorf("requires-python: %q excludes %s: the lock was made for other Python versions", c.requiresText, rt)}
	}
	chosen := map[string]pylockEntry{}
	for _, e := range c.entries {
		if !e.marker.Eval(rt, arch) {
			continue
		}
		if !e.requiresPython.evalOr(rt, arch, true) {
			return &Error{File: file, Line: e.line, Err: clippedErrorf("%s.requires-python: %s needs Python %s, which excludes %s", e.where, e.spelled, e.requiresText, rt)}
		}
		if prev, dup := chosen[e.name]; dup {
			return &Error{File: file, Line: e.line, Err: clippedErrorf("%s: %s %s here and %s %s in %s (line %d) both apply on %s: the markers of a package's entries must leave one per environment (PEP 751)", e.where, e.spelled, e.version, prev.spelled, prev.version, prev.where, prev.line, env)}
		}
		if e.problem != nil {
			return e.problem
		}
		chosen[e.name] = e
	}
	return nil
}

// evalOr evaluates m, or returns absent when there is no marker.
func (m *Marker) evalOr(rt target.Runtime, arch target.Arch, absent bool) bool {
	if m == nil {
		return absent
	}
	return m.Eval(rt, arch)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = clip.Quote(s)
	}
	return strings.Join(q, ", ")
}
