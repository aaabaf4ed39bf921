package wheel

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/target"
)

// Selection is the wheel each runtime of a target gets for one package
// version. Exactly one of Shared and PerRuntime is set.
type Selection struct {
	// Shared is the wheel that fits every runtime; it goes to python/ in
	// the layer, where every runtime imports it.
	Shared *Filename
	// PerRuntime holds each runtime's own wheel when no single wheel fits
	// them all; each goes to that runtime's python/lib/python3.X/site-packages.
	PerRuntime map[target.Runtime]Filename
	// Why explains the choice in one line, for build logs.
	Why string
}

// maxListed caps the candidates an error lists: a package like numpy ships
// fifty files, and the nearest few say what is wrong.
const maxListed = 8

// candidate is one file of the package version with its fit to each runtime
// of the target, in t.Runtimes order.
type candidate struct {
	f    Filename
	fits []Fit
	near []int
}

// Select picks the wheels for one locked package version (pkg==version)
// among files, for target t.
//
// The rule, so that a build can be explained and repeated: if some file fits
// every runtime, the one whose lowest rank across the runtimes is highest is
// Shared; otherwise each runtime gets its highest-ranked fitting file. Ties
// go to the lexically first filename, and the input order never matters.
// Files of another name or version are ignored (and named in errors).
//
// Select fails when no file fits any runtime (listing the nearest files and
// why each does not fit), or when some runtimes have a fitting file and
// others none (naming both sides: a layer that imports on one runtime and
// not the other is worse than no layer).
func Select(pkg, version string, files []Filename, t target.Target) (Selection, error) {
	label := pkg + " " + version
	if len(t.Runtimes) == 0 {
		return Selection{}, fmt.Errorf("%s: target %s names no runtime", label, t)
	}
	wantVersion, ok := canonicalVersion(version)
	if !ok {
		return Selection{}, fmt.Errorf("%s: version %q is not a PEP 440 version", label, version)
	}
	wantName := NormalizeName(pkg)

	// Sorting (and dropping the same file listed twice, say by two indexes)
	// makes every later choice independent of the input order.
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b Filename) int { return strings.Compare(a.Raw, b.Raw) })
	sorted = slices.CompactFunc(sorted, func(a, b Filename) bool { return a.Raw == b.Raw })

	var cands []candidate
	var others []string // files of another package or version, as error lines
	for _, f := range sorted {
		if v, _ := canonicalVersion(f.Version); f.Name != wantName || v != wantVersion {
			others = append(others, fmt.Sprintf("%s: is %s %s, not %s %s", f.Raw, f.Name, f.Version, wantName, version))
			continue
		}
		c := candidate{f: f}
		for _, r := range t.Runtimes {
			fit, near := f.fit(r, t.Arch)
			c.fits = append(c.fits, fit)
			c.near = append(c.near, near)
		}
		cands = append(cands, c)
	}

	if sel, ok := selectShared(label, cands, t); ok {
		return sel, nil
	}

	per := make(map[target.Runtime]Filename, len(t.Runtimes))
	var why []string
	var have, missing []int // indexes into t.Runtimes
	for i, r := range t.Runtimes {
		best, n := -1, 0
		for j, c := range cands {
			if !c.fits[i].OK {
				continue
			}
			n++
			if best < 0 || c.fits[i].Rank > cands[best].fits[i].Rank {
				best = j
			}
		}
		if best < 0 {
			missing = append(missing, i)
			continue
		}
		have = append(have, i)
		per[r] = cands[best].f
		why = append(why, fmt.Sprintf("%s -> %s (%s)", r, cands[best].f.Tag(), howMany(n, "")))
	}
	switch {
	case len(have) == 0:
		return Selection{}, noneFits(label, cands, others, t)
	case len(missing) > 0:
		return Selection{}, someFit(label, pkg, cands, have, missing, t)
	}
	return Selection{
		PerRuntime: per,
		Why:        label + ": no wheel fits every runtime; " + strings.Join(why, "; "),
	}, nil
}

// selectShared picks the file that fits every runtime of t with the highest
// lowest rank, if any does.
func selectShared(label string, cands []candidate, t target.Target) (Selection, bool) {
	best, bestRank, n := -1, 0, 0
	for j, c := range cands {
		low, all := 0, true
		for i, fit := range c.fits {
			if !fit.OK {
				all = false
				break
			}
			if i == 0 || fit.Rank < low {
				low = fit.Rank
			}
		}
		if !all {
			continue
		}
		n++
		// Strictly greater: among equals the lexically first (sorted) wins.
		if best < 0 || low > bestRank {
			best, bestRank = j, low
		}
	}
	if best < 0 {
		return Selection{}, false
	}
	f := cands[best].f
	names := runtimeNames(t.Runtimes)
	every := " every runtime"
	if len(t.Runtimes) == 1 {
		every = ""
	}
	return Selection{
		Shared: &f,
		Why:    fmt.Sprintf("%s: %s -> %s (%s)", label, strings.Join(names, ", "), f.Tag(), howMany(n, every)),
	}, true
}

func howMany(n int, every string) string {
	if n == 1 && every == "" {
		return "the only fitting wheel"
	}
	if n == 1 {
		return "the only wheel fitting" + every
	}
	return fmt.Sprintf("most specific of %d fitting%s", n, every)
}

func runtimeNames(rs []target.Runtime) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// noneFits is the error for a package version no file of which fits any
// runtime: each file with its reason, nearest first.
func noneFits(label string, cands []candidate, others []string, t target.Target) error {
	if len(cands) == 0 && len(others) == 0 {
		return fmt.Errorf("%s: no wheel fits %s: no files to choose from", label, t)
	}
	nearest := func(c candidate) int { return slices.Max(c.near) }
	ordered := slices.Clone(cands)
	slices.SortStableFunc(ordered, func(a, b candidate) int { return cmp.Compare(nearest(b), nearest(a)) })
	var lines []string
	for _, c := range ordered {
		_, why := c.f.FitTarget(t)
		lines = append(lines, c.f.Raw+": "+why)
	}
	lines = append(lines, others...)
	total := len(lines)
	if total > maxListed {
		lines = append(lines[:maxListed], fmt.Sprintf("and %d more", total-maxListed))
	}
	return fmt.Errorf("%s: no wheel fits %s (%d files considered):\n  %s", label, t, total, strings.Join(lines, "\n  "))
}

// someFit is the error for a package version that has wheels for some
// runtimes of t and none for others.
func someFit(label, pkg string, cands []candidate, have, missing []int, t target.Target) error {
	var haveNames, haveFiles []string
	for _, i := range have {
		haveNames = append(haveNames, t.Runtimes[i].String())
		best := -1
		for j, c := range cands {
			if c.fits[i].OK && (best < 0 || c.fits[i].Rank > cands[best].fits[i].Rank) {
				best = j
			}
		}
		haveFiles = append(haveFiles, cands[best].f.Raw)
	}
	haveFiles = slices.Compact(slices.Sorted(slices.Values(haveFiles)))
	var b strings.Builder
	b.WriteString(label + ": ")
	if len(haveNames) == 1 {
		b.WriteString(haveNames[0] + " has a fitting wheel (")
	} else {
		b.WriteString(strings.Join(haveNames, ", ") + " have fitting wheels (")
	}
	b.WriteString(strings.Join(haveFiles, ", ") + ") but ")

	var parts, closest, missingNames []string
	for _, i := range missing {
		r := t.Runtimes[i]
		missingNames = append(missingNames, r.String())
		// The nearest miss holds the reason worth reading: for rawpy on
		// python3.11 the cp311 manylinux wheel, not the Windows one.
		near := 0
		for j, c := range cands {
			if c.near[i] > cands[near].near[i] {
				near = j
			}
		}
		parts = append(parts, r.String()+" has none: "+cands[near].fits[i].Reason)
		closest = append(closest, fmt.Sprintf("closest for %s: %s", r, cands[near].f.Raw))
	}
	b.WriteString(strings.Join(parts, "; "))
	for _, c := range closest {
		b.WriteString("\n  " + c)
	}
	fmt.Fprintf(&b, "\n  pin a %s version with wheels for %s too, or build for %s only",
		pkg, strings.Join(missingNames, ", "), strings.Join(haveNames, ", "))
	return errors.New(b.String())
}
