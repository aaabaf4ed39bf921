package coldstarts

import (
	"cmp"
	"slices"
	"strconv"
)

// Percentiles are a set of durations in milliseconds at p50, p90, p99 and
// the maximum, by the nearest-rank method (see NearestRank).
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// NearestRank returns the p-th percentile (0 < p <= 100) of sorted, an
// ascending non-empty list, by the nearest-rank method: the smallest value
// that at least p percent of the values are less than or equal to, i.e.
// the value at 1-based rank ceil(p/100 * n). It is always one of the
// values seen, never an interpolation: with 3 cold starts p90 and p99 are
// the slowest of them.
func NearestRank(sorted []float64, p int) float64 {
	n := len(sorted)
	rank := (p*n + 99) / 100 // ceil(p*n/100) in integers, free of float rounding
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// percentiles summarizes values; nil when there are none.
func percentiles(values []float64) *Percentiles {
	if len(values) == 0 {
		return nil
	}
	s := slices.Clone(values)
	slices.Sort(s)
	return &Percentiles{
		P50: NearestRank(s, 50),
		P90: NearestRank(s, 90),
		P99: NearestRank(s, 99),
		Max: s[len(s)-1],
	}
}

// Version is one function version's cold starts.
type Version struct {
	Version     string `json:"version"` // "7", "$LATEST"
	Invocations int    `json:"invocations"`
	ColdStarts  int    `json:"coldStarts"`
	// InitMS summarizes the init durations; nil when none was seen.
	InitMS *Percentiles `json:"initMs"`
	// RestoreMS summarizes the SnapStart restore durations; nil when
	// none was seen.
	RestoreMS *Percentiles `json:"restoreMs"`
}

// Tally counts platform records by version, applying the counting rule:
//
//   - Every REPORT is an invocation. A REPORT that carries an Init
//     Duration or a Restore Duration is a cold start, and its duration is
//     an init or a restore sample.
//   - An INIT_REPORT is never an invocation or a cold start: it reports an
//     init phase, not a request served. Its duration is an init sample
//     only when no REPORT of the same log stream (one stream is one
//     execution environment) carries an Init Duration, so one init is
//     never counted twice when Lambda logs both lines for it. What remains
//     are inits that served no request as a cold start: a SnapStart
//     version's init when it is published (its environments then restore
//     and their REPORTs carry Restore Duration instead), a provisioned
//     environment's, and inits that failed or timed out.
//
// The zero Tally is not usable; use NewTally.
type Tally struct {
	versions map[string]*versionTally
	streams  map[string]*streamTally
}

type versionTally struct {
	invocations, coldStarts int
	init, restore           []float64
}

// streamTally is what one execution environment's stream said about its
// init.
type streamTally struct {
	version     string
	reportInit  bool      // a REPORT carried an Init Duration
	initReports []float64 // INIT_REPORT durations
}

// NewTally returns an empty Tally.
func NewTally() *Tally {
	return &Tally{versions: map[string]*versionTally{}, streams: map[string]*streamTally{}}
}

// Add counts r, read from the log stream stream of version version.
func (t *Tally) Add(version, stream string, r Record) {
	v := t.versions[version]
	if v == nil {
		v = &versionTally{}
		t.versions[version] = v
	}
	s := t.streams[stream]
	if s == nil {
		s = &streamTally{version: version}
		t.streams[stream] = s
	}
	switch r.Kind {
	case Invocation:
		v.invocations++
		if r.ColdStart() {
			v.coldStarts++
		}
		if r.InitMS != nil {
			v.init = append(v.init, *r.InitMS)
			s.reportInit = true
		}
		if r.RestoreMS != nil {
			v.restore = append(v.restore, *r.RestoreMS)
		}
	case Init:
		if r.InitMS != nil {
			s.initReports = append(s.initReports, *r.InitMS)
		}
	}
}

// Versions returns each version's figures: numbered versions in numeric
// order, then $LATEST, then any other name.
func (t *Tally) Versions() []Version {
	// INIT_REPORT samples of the streams whose REPORTs did not carry the
	// init themselves; percentiles sorts, so the order does not matter.
	extra := map[string][]float64{}
	for _, s := range t.streams {
		if !s.reportInit {
			extra[s.version] = append(extra[s.version], s.initReports...)
		}
	}
	var out []Version
	for name, v := range t.versions {
		out = append(out, Version{
			Version:     name,
			Invocations: v.invocations,
			ColdStarts:  v.coldStarts,
			InitMS:      percentiles(append(slices.Clone(v.init), extra[name]...)),
			RestoreMS:   percentiles(v.restore),
		})
	}
	slices.SortFunc(out, func(a, b Version) int { return compareVersions(a.Version, b.Version) })
	return out
}

// compareVersions orders "2" before "10", numbers before $LATEST, and
// $LATEST before anything else.
func compareVersions(a, b string) int {
	rank := func(s string) (int, uint64) {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return 0, n
		}
		if s == "$LATEST" {
			return 1, 0
		}
		return 2, 0
	}
	ra, na := rank(a)
	rb, nb := rank(b)
	return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(na, nb), cmp.Compare(a, b))
}
