package wheel

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/pep440"
	"github.com/galerly/galerly-lambda/build/internal/pyname"
	"github.com/galerly/galerly-lambda/build/target"
)

// Selection is the wheel each runtime of a target gets for one package
// version. Exactly one of Shared and PerRuntime is set.
type Selection struct {
	// Shared is set when every runtime's best wheel is the same file; it
	// goes to python/ in the layer, where every runtime imports it.
	Shared *Filename
	// PerRuntime holds each runtime's best wheel when the runtimes' picks
	// differ. It has an entry for every runtime, even where some picks
	// coincide (an abi3 wheel best for two runtimes of three); each goes to
	// that runtime's python/lib/python3.X/site-packages.
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
// The rule, so that a build can be explained and repeated: each runtime
// gets its highest-ranked fitting file (see Fit.Rank), ties going to the
// lexically first filename. If every runtime's pick is the same file it is
// Shared; otherwise PerRuntime holds each runtime's pick. A runtime is
// never given a less specific wheel so that it can share one: a compiled
// wheel beats the pure fallback even when the pure wheel fits every
// runtime. The input order never matters. Files of another name or
// version are ignored (and named in errors).
//
// Select fails when no file fits any runtime (listing the nearest files and
// why each does not fit), or when some runtimes have a fitting file and
// others none (naming both sides: a layer that imports on one runtime and
// not the other is worse than no layer).
func Select(pkg, version string, files []Filename, t target.Target) (Selection, error) {
	label := clip.String(pkg) + " " + clip.String(version)
	if len(t.Runtimes) == 0 {
		return Selection{}, fmt.Errorf("%s: target %s names no runtime", label, t)
	}
	wantVersion, err := pep440.Parse(version)
	if err != nil {
		return Selection{}, fmt.Errorf("%s: version %s is not a PEP 440 version", label, clip.Quote(version))
	}
	wantName := pyname.Normalize(pkg)

	// Sorting (and dropping the same file listed twice, say by two indexes)
	// makes every later choice independent of the input order.
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b Filename) int { return strings.Compare(a.Raw, b.Raw) })
	sorted = slices.CompactFunc(sorted, func(a, b Filename) bool { return a.Raw == b.Raw })

	var cands []candidate
	var others []string // files of another package or version, as error lines
	for _, f := range sorted {
		if v, err := pep440.Parse(f.Version); f.Name != wantName || err != nil || v.Compare(wantVersion) != 0 {
			others = append(others, fmt.Sprintf("%s: is %s %s, not %s %s", clip.String(f.Raw), clip.String(f.Name), clip.String(f.Version), clip.String(wantName), clip.String(version)))
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

	picks := make([]int, len(t.Runtimes)) // index into cands, per runtime
	counts := make([]int, len(t.Runtimes))
	var have, missing []int // indexes into t.Runtimes
	fitting := 0            // files fitting at least one runtime
	for _, c := range cands {
		if slices.ContainsFunc(c.fits, func(f Fit) bool { return f.OK }) {
			fitting++
		}
	}
	for i := range t.Runtimes {
		picks[i], counts[i] = bestFor(cands, i)
		if picks[i] < 0 {
			missing = append(missing, i)
		} else {
			have = append(have, i)
		}
	}
	switch {
	case len(have) == 0:
		return Selection{}, noneFits(label, cands, others, t)
	case len(missing) > 0:
		return Selection{}, someFit(label, pkg, cands, have, missing, t)
	}

	if !slices.ContainsFunc(picks, func(p int) bool { return p != picks[0] }) {
		f := cands[picks[0]].f
		var how string
		switch {
		case len(t.Runtimes) == 1:
			how = howMany(counts[0])
		case fitting == 1:
			how = "the only wheel fitting every runtime"
		default:
			how = fmt.Sprintf("most specific for every runtime, of %d fitting", fitting)
		}
		return Selection{
			Shared: &f,
			Why:    fmt.Sprintf("%s: %s -> %s (%s)", label, strings.Join(runtimeNames(t.Runtimes), ", "), f.Tag(), how),
		}, nil
	}
	per := make(map[target.Runtime]Filename, len(t.Runtimes))
	why := make([]string, len(t.Runtimes))
	for i, r := range t.Runtimes {
		f := cands[picks[i]].f
		per[r] = f
		why[i] = fmt.Sprintf("%s -> %s (%s)", r, f.Tag(), howMany(counts[i]))
	}
	return Selection{
		PerRuntime: per,
		Why:        label + ": per runtime: " + strings.Join(why, "; "),
	}, nil
}

// bestFor returns the index in cands of runtime i's highest-ranked
// fitting file (-1 when none fits) and how many files fit it. cands are
// sorted by filename, so among equals the lexically first wins.
func bestFor(cands []candidate, i int) (best, n int) {
	best = -1
	for j, c := range cands {
		if !c.fits[i].OK {
			continue
		}
		n++
		if best < 0 || c.fits[i].Rank > cands[best].fits[i].Rank {
			best = j
		}
	}
	return best, n
}

// howMany describes a runtime's pick among the n files that fit it.
func howMany(n int) string {
	if n == 1 {
		return "the only fitting wheel"
	}
	return fmt.Sprintf("most specific of %d fitting", n)
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
		lines = append(lines, clip.String(c.f.Raw)+": "+why)
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
		best, _ := bestFor(cands, i)
		haveFiles = append(haveFiles, clip.String(cands[best].f.Raw))
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
		closest = append(closest, fmt.Sprintf("closest for %s: %s", r, clip.String(cands[near].f.Raw)))
	}
	b.WriteString(strings.Join(parts, "; "))
	for _, c := range closest {
		b.WriteString("\n  " + c)
	}
	fmt.Fprintf(&b, "\n  pin a %s version with wheels for %s too, or build for %s only",
		pkg, strings.Join(missingNames, ", "), strings.Join(haveNames, ", "))
	return errors.New(b.String())
}
