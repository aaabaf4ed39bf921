package coldstarts

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Kind says which platform line a Record came from.
type Kind int

// The two platform lines that are counted.
const (
	// Invocation is a REPORT line (text format) or a platform.report
	// record (JSON format): one per invocation.
	Invocation Kind = iota + 1
	// Init is an INIT_REPORT line or a platform.initReport record: one per
	// init phase Lambda reports on its own, e.g. the init a SnapStart
	// version runs when it is published, or one that failed.
	Init
)

// Record is what one platform line says about cold starts.
type Record struct {
	Kind Kind
	// InitMS is the REPORT's Init Duration (present only on the first
	// invocation of an on-demand environment), or the INIT_REPORT's.
	InitMS *float64
	// RestoreMS is the REPORT's Restore Duration: present only on the
	// first invocation of an environment restored from a SnapStart
	// snapshot.
	RestoreMS *float64
}

// ColdStart reports whether r is an invocation that started its
// environment: one that carries an init or a restore duration.
func (r Record) ColdStart() bool {
	return r.Kind == Invocation && (r.InitMS != nil || r.RestoreMS != nil)
}

// reportPrefix and initReportPrefix begin the text-format platform lines.
// The request ID is required after REPORT so a function's own line that
// happens to start with the word is not taken for one.
const (
	reportPrefix     = "REPORT RequestId:"
	initReportPrefix = "INIT_REPORT "
)

// field returns the value of the text-format field "NAME: 123.45 ms" in
// line, where NAME is not the tail of a longer name ("Restore Duration" is
// not "Billed Restore Duration"), and nil when there is none. A plain
// scan: a day of a busy function is hundreds of thousands of lines.
func field(line, name string) *float64 {
	key := name + ": "
	for from := 0; ; {
		i := strings.Index(line[from:], key)
		if i < 0 {
			return nil
		}
		i += from
		from = i + len(key)
		if i > 0 && line[i-1] != ' ' && line[i-1] != '\t' {
			continue
		}
		if strings.HasSuffix(line[:i], "Billed ") {
			continue
		}
		num, rest, ok := strings.Cut(line[from:], " ms")
		if !ok || num == "" || strings.Trim(num, "0123456789.") != "" || (rest != "" && rest[0] != '\t' && rest[0] != ' ') {
			continue
		}
		if v, ok := parseMS(num); ok {
			return &v
		}
	}
}

// ParseMessage reads one log event's message. It returns false for
// anything that is not a REPORT or INIT_REPORT line in the text format or
// a platform.report or platform.initReport record in the JSON format:
// the function's own lines, START and END, other platform records.
func ParseMessage(msg string) (Record, bool) {
	msg = strings.TrimSpace(msg)
	switch {
	case strings.HasPrefix(msg, reportPrefix):
		// Billed Restore Duration is what is charged, not what was waited.
		return Record{Kind: Invocation, InitMS: field(msg, "Init Duration"), RestoreMS: field(msg, "Restore Duration")}, true
	case strings.HasPrefix(msg, initReportPrefix):
		if d := field(msg, "Init Duration"); d != nil {
			return Record{Kind: Init, InitMS: d}, true
		}
		return Record{}, false
	case strings.HasPrefix(msg, "{"):
		return parseJSON(msg)
	}
	return Record{}, false
}

// platformRecord is the JSON log format's platform record, as the
// Telemetry API's Event schema describes it: platform.report carries
// record.metrics.{durationMs, billedDurationMs, memorySizeMB,
// maxMemoryUsedMB, initDurationMs?, restoreDurationMs?};
// platform.initReport carries record.metrics.durationMs (and
// initializationType, phase, status).
type platformRecord struct {
	Type   string `json:"type"`
	Record struct {
		Metrics struct {
			DurationMS        *float64 `json:"durationMs"`
			InitDurationMS    *float64 `json:"initDurationMs"`
			RestoreDurationMS *float64 `json:"restoreDurationMs"`
		} `json:"metrics"`
	} `json:"record"`
}

func parseJSON(msg string) (Record, bool) {
	if !strings.Contains(msg, `"platform.`) {
		return Record{}, false // the function's own JSON logging: not worth decoding
	}
	var p platformRecord
	if json.Unmarshal([]byte(msg), &p) != nil {
		return Record{}, false
	}
	m := p.Record.Metrics
	switch p.Type {
	case "platform.report":
		return Record{Kind: Invocation, InitMS: valid(m.InitDurationMS), RestoreMS: valid(m.RestoreDurationMS)}, true
	case "platform.initReport":
		if d := valid(m.DurationMS); d != nil {
			return Record{Kind: Init, InitMS: d}, true
		}
	}
	return Record{}, false
}

// parseMS parses a duration in milliseconds as the text lines print it.
func parseMS(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// valid drops a duration no platform would write (negative), so a
// malformed record cannot skew the figures.
func valid(v *float64) *float64 {
	if v == nil || *v < 0 || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return nil
	}
	return v
}

// streamRE matches Lambda's log stream names, "2026/11/28/[7]0123abcd..."
// or "2026/11/28/[$LATEST]0123abcd...": the bracket holds the version the
// environment runs.
var streamRE = regexp.MustCompile(`^[0-9]{4}/[0-9]{2}/[0-9]{2}/\[([^\]]+)\]`)

// VersionOf returns the function version a log stream's name carries, and
// false for a stream Lambda did not name (one a person or tool wrote to).
func VersionOf(stream string) (string, bool) {
	m := streamRE.FindStringSubmatch(stream)
	if m == nil {
		return "", false
	}
	return m[1], true
}
