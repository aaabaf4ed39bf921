package lock

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/pep440"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/build/wheel"
)

// This file holds what a lock means per runtime: which of a package's
// lines applies to each (a universal lock lists a package once per set of
// Pythons that need a different version), what a constraint narrows, and,
// for a pylock.toml, whether the chosen wheels fit.

// checkRequirements refuses a requirements lock that does not say what to
// install on rt: a marker that depends on rt's patch release, two lines of
// one package that both apply, or a constraint (-c) that conflicts with
// the line it applies to.
func (l *Lock) checkRequirements(rt target.Runtime, arch target.Arch) error {
	env := fmt.Sprintf("%s/%s", rt, arch)
	on := map[string]Requirement{}
	for _, req := range l.Requirements {
		ok, err := req.Marker.Eval(rt, arch)
		if err != nil {
			return &Error{File: req.File, Line: req.Line, Err: fmt.Errorf("%s==%s: %w", req.Spelled, req.Version, err)}
		}
		if !ok {
			continue
		}
		if prev, dup := on[req.Name]; dup {
			return &Error{File: req.File, Line: req.Line, Err: fmt.Errorf(
				"%s==%s here and %s==%s on %s both apply to %s: a package may be listed more than once only under markers that leave one line per runtime (as uv pip compile --universal writes them)",
				req.Spelled, req.Version, prev.Spelled, prev.Version, lineOf(prev, req.File), env)}
		}
		on[req.Name] = req
	}
	for _, name := range slices.Sorted(maps.Keys(l.constraints)) {
		c, err := oneApplying(l.constraints[name], rt, arch, "constraint")
		if err != nil {
			return err
		}
		req, required := on[name]
		switch {
		case c == nil || !required:
			// A constraint adds nothing, as in pip.
		case !pep440.Equal(req.Version, c.Version):
			return &Error{File: req.File, Line: req.Line, Err: fmt.Errorf("%s==%s conflicts with the constraint %s==%s (%s) on %s",
				req.Spelled, req.Version, c.Spelled, c.Version, lineOf(*c, req.File), env)}
		case len(c.Hashes) > 0 && len(intersect(req.Hashes, c.Hashes)) == 0:
			return &Error{File: req.File, Line: req.Line, Err: fmt.Errorf("%s==%s: none of its hashes is one the constraint on %s allows, so no file could be installed on %s",
				req.Spelled, req.Version, lineOf(*c, req.File), env)}
		}
	}
	return nil
}

// oneApplying returns the one line of lines whose marker holds on rt (nil
// when none does), refusing two, or a marker it cannot decide. kind names
// the lines in messages.
func oneApplying(lines []Requirement, rt target.Runtime, arch target.Arch, kind string) (*Requirement, error) {
	var found *Requirement
	for i := range lines {
		c := &lines[i]
		ok, err := c.Marker.Eval(rt, arch)
		switch {
		case err != nil:
			return nil, &Error{File: c.File, Line: c.Line, Err: fmt.Errorf("%s %s==%s: %w", kind, c.Spelled, c.Version, err)}
		case !ok:
			continue
		case found != nil:
			return nil, &Error{File: c.File, Line: c.Line, Err: fmt.Errorf("%s %s==%s here and %s==%s on %s both apply to %s/%s: their markers must leave one per runtime",
				kind, c.Spelled, c.Version, found.Spelled, found.Version, lineOf(*found, c.File), rt, arch)}
		}
		found = c
	}
	return found, nil
}

// lineOf names where r is for a message about a line of file: "line 12"
// in the same file, "base.txt:12" in another.
func lineOf(r Requirement, file string) string {
	if r.File == file {
		return fmt.Sprintf("line %d", r.Line)
	}
	return fmt.Sprintf("%s:%d", r.File, r.Line)
}

// intersect returns the digests both sorted lists hold, sorted.
func intersect(a, b []string) []string {
	var out []string
	for _, h := range a {
		if _, ok := slices.BinarySearch(b, h); ok {
			out = append(out, h)
		}
	}
	return out
}

// hashesOn returns the digests req may be installed from on rt: its own,
// narrowed to those the constraint that applies there allows when that
// constraint lists any (pip's rule: a requirement's and its constraint's
// hashes must both allow a file).
func (l *Lock) hashesOn(req Requirement, rt target.Runtime, arch target.Arch) []string {
	c, err := oneApplying(l.constraints[req.Name], rt, arch, "constraint")
	if err != nil || c == nil || len(c.Hashes) == 0 || !pep440.Equal(c.Version, req.Version) {
		return req.Hashes
	}
	return intersect(req.Hashes, c.Hashes)
}

// checkFit refuses a pylock.toml package that applies to t but lists no
// wheel fitting one of the runtimes it applies to, on t's architecture:
// the same check, with the same message, that choosing the wheels makes
// in a build, made here from the file names the lock gives, so `key` and
// a preview refuse what `layer` would.
func (l *Lock) checkFit(t target.Target) error {
	for _, a := range l.For(t) {
		if a.Wheels == nil {
			continue
		}
		var names []wheel.Filename
		for _, w := range a.Wheels {
			fn, err := wheel.ParseFilename(w.Filename)
			if err != nil {
				return &Error{File: l.File, Line: w.Line, Err: fmt.Errorf("%s: %w", w.Where, err)}
			}
			names = append(names, fn)
		}
		if _, err := wheel.Select(a.Name, a.Version, names, target.Target{Runtimes: a.Runtimes, Arch: t.Arch}); err != nil {
			return &Error{File: l.File, Line: a.Line, Err: err}
		}
	}
	return nil
}

// Pins returns "name==version" for each requirement of l that applies to
// t, sorted: what a preview shows of the lock. A package that gets
// different lines on different runtimes of t (a universal lock's numpy for
// python3.11 and python3.12) has one pin per line, each followed by the
// runtimes it is for: "numpy==2.1.3 (python3.11)". l must be one Check
// accepted for t.
func Pins(l *Lock, t target.Target) []string {
	applied := l.For(t)
	lines := map[string]int{}
	for _, a := range applied {
		lines[a.Name]++
	}
	var out []string
	for _, a := range applied {
		pin := a.Name + "==" + a.Version
		if lines[a.Name] > 1 {
			pin += " (" + runtimeNames(a.Runtimes) + ")"
		}
		out = append(out, pin)
	}
	slices.Sort(out)
	return out
}

// runtimeNames joins runtimes' names with commas: "python3.11,python3.12".
func runtimeNames(rs []target.Runtime) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.String()
	}
	return strings.Join(names, ",")
}
