package lock

import (
	"fmt"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/target"
)

// Check reports what makes the lock unusable for t, which only the target
// can tell. For every lock, each marker must be decided on each runtime
// (see Marker), and at most one line or entry of a package may apply to a
// runtime. For a pylock.toml (PEP 751), for each runtime of t: the lock's
// environments and requires-python must admit it; among the packages
// whose marker holds there, each must meet its requires-python and be
// installable from wheels (a pinned version, wheels with sha256 digests);
// and each must list a wheel that fits each runtime it applies to on t's
// architecture (the fit check a build makes, with its message). The error
// names the file, the line and, in a pylock.toml, the key path. For and
// Key assume a lock Check accepted.
func (l *Lock) Check(t target.Target) error {
	t = t.Canonical()
	if l.pylock == nil {
		for _, rt := range t.Runtimes {
			if err := l.checkRequirements(rt, t.Arch); err != nil {
				return err
			}
		}
		return nil
	}
	for _, rt := range t.Runtimes {
		if err := l.pylock.check(l.File, rt, t.Arch); err != nil {
			return err
		}
	}
	return l.checkFit(t)
}

func (c *pylockChecks) check(file string, rt target.Runtime, arch target.Arch) error {
	env := fmt.Sprintf("%s/%s", rt, arch)
	if len(c.environments) > 0 {
		fits := false
		var open error
		for i, m := range c.environments {
			ok, err := m.Eval(rt, arch)
			if err != nil && open == nil {
				open = fmt.Errorf("environments[%d]: %w", i, err)
			}
			fits = fits || ok
		}
		switch {
		case !fits && open != nil:
			return &Error{File: file, Line: c.environmentsLine, Err: open}
		case !fits:
			return &Error{File: file, Line: c.environmentsLine, Err: clippedErrorf("environments: none of %s holds on %s: the lock was made for other environments", quoteAll(c.environmentsText), env)}
		}
	}
	if ok, err := c.requiresPython.evalOr(rt, arch, true); err != nil {
		return &Error{File: file, Line: c.requiresLine, Err: clippedErrorf("requires-python: %q: %w", c.requiresText, err)}
	} else if !ok {
		return &Error{File: file, Line: c.requiresLine, Err: clippedErrorf("requires-python: %q excludes %s: the lock was made for other Python versions", c.requiresText, rt)}
	}
	chosen := map[string]pylockEntry{}
	for _, e := range c.entries {
		if on, err := e.marker.Eval(rt, arch); err != nil {
			return &Error{File: file, Line: e.line, Err: fmt.Errorf("%s.marker: %s: %w", e.where, e.spelled, err)}
		} else if !on {
			continue
		}
		if ok, err := e.requiresPython.evalOr(rt, arch, true); err != nil {
			return &Error{File: file, Line: e.line, Err: clippedErrorf("%s.requires-python: %s needs Python %s: %w", e.where, e.spelled, e.requiresText, err)}
		} else if !ok {
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
func (m *Marker) evalOr(rt target.Runtime, arch target.Arch, absent bool) (bool, error) {
	if m == nil {
		return absent, nil
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
