package verify

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Decode is the self-test's decoding of one of the app's bundled samples
// with the layer's own libraries: {"ok": true, "ms": 12.3, "via":
// "preview"}, or {"ok": false, "ms": null, "via": null, "error": "..."}.
type Decode struct {
	OK    *bool    `json:"ok"`
	MS    *float64 `json:"ms"`  // how long the decode took
	Via   *string  `json:"via"` // RAW: "preview" or "demosaic"; HEIC: "pillow_heif"; JPEG: "PIL"
	Error string   `json:"error"`
}

// failed reports whether the report says the sample did not decode.
func (d Decode) failed() bool { return d.OK != nil && !*d.OK }

// decodeLabels name the self-test's decode keys as its log lines do, in the
// order they are printed; a key not listed follows, upper-cased.
var decodeLabels = []struct{ key, label string }{
	{"raw", "RAW"},
	{"heic", "HEIC"},
	{"jpeg", "JPEG"},
}

// decodeOrder returns the keys of decode in print order with their labels.
func decodeOrder(decode map[string]Decode) (keys, labels []string) {
	for _, l := range decodeLabels {
		if _, ok := decode[l.key]; ok {
			keys, labels = append(keys, l.key), append(labels, l.label)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(decode)) {
		if !slices.ContainsFunc(decodeLabels, func(l struct{ key, label string }) bool { return l.key == k }) {
			keys, labels = append(keys, k), append(labels, strings.ToUpper(k))
		}
	}
	return keys, labels
}

// decodeFailure describes a failed decode inside another sentence.
func decodeFailure(label string, d Decode) string {
	return fmt.Sprintf("%s decoding (the sample did not decode: %s)", label, orUnsaid(d.Error))
}

// decodeResults are the lines verify prints for the self-test's decodes:
// "ok   RAW: decoded in 12.3 ms via preview", or "FAIL RAW: FAILED: ...".
func decodeResults(st SelfTest, reproduce, logs string) []Result {
	keys, labels := decodeOrder(st.Decode)
	var rs []Result
	for i, k := range keys {
		d := st.Decode[k]
		r := Result{Check: labels[i]}
		switch {
		case d.OK == nil:
			r.Status = Skip
			r.Detail = "the report gives no verdict for this sample"
		case *d.OK:
			r.Detail = "decoded"
			if d.MS != nil {
				r.Detail += " in " + strconv.FormatFloat(*d.MS, 'f', 1, 64) + " ms"
			}
			if d.Via != nil && *d.Via != "" {
				r.Detail += " via " + *d.Via
			}
		default:
			r.Status = Fail
			r.Detail = "FAILED: " + oneLine(orUnsaid(d.Error))
			r.Fix = decodeFix(k, reproduce, logs)
		}
		rs = append(rs, r)
	}
	return rs
}

// decodeFix says what to do when a sample does not decode: the package
// imported (else the import lines say so) but its compiled codec cannot
// do its job.
func decodeFix(key, reproduce, logs string) string {
	what := map[string]string{
		"raw":  "rawpy imports but its LibRaw cannot decode the app's DNG sample (a vendored library missing or built for another CPU, or a broken wheel): check the layer's rawpy wheel with lambdapack check",
		"heic": "pillow_heif imports but its libheif cannot decode the app's HEIC sample: check the layer's pillow-heif wheel with lambdapack check",
		"jpeg": "Pillow imports but cannot decode the app's JPEG sample: check the layer's Pillow wheel with lambdapack check",
	}[key]
	if what == "" {
		what = "the layer's library for this format cannot decode the app's sample"
	}
	return fmt.Sprintf("%s, reproduce with %s, and read the logs: %s", what, reproduce, logs)
}

// initResult is the line verify prints for how the answering environment
// was initialized and what its init primed: "ok   init: snap-start;
// primed in init: numpy, PIL, pillow_heif, rawpy". ok is false for a
// report older than these fields.
func initResult(st SelfTest) (Result, bool) {
	if st.InitializationType == nil && st.Primed == nil {
		return Result{}, false
	}
	r := Result{Check: "init", Detail: "initialization type not reported (AWS_LAMBDA_INITIALIZATION_TYPE unset)"}
	if st.InitializationType != nil {
		r.Detail = *st.InitializationType
	}
	switch {
	case st.Primed == nil:
	case len(st.Primed) > 0:
		r.Detail += "; primed in init: " + strings.Join(st.Primed, ", ")
	case st.InitializationType != nil && *st.InitializationType == "snap-start":
		// Not a failure (the function works), but the snapshot then keeps
		// none of the image stack.
		r.Detail += "; nothing primed in init: restored environments import the image packages at their first request"
	default:
		r.Detail += "; nothing primed in init"
	}
	return r, true
}

// selfTestDetails are the lines that follow the self-test's own: one per
// decoded sample, then the init line. None for a report older than these
// fields.
func selfTestDetails(st SelfTest, fn Function) []Result {
	reproduce, logs := selfTestHelp(fn)
	rs := decodeResults(st, reproduce, logs)
	if r, ok := initResult(st); ok {
		rs = append(rs, r)
	}
	return rs
}

func orUnsaid(s string) string {
	if strings.TrimSpace(s) == "" {
		return "the report gives no error"
	}
	return s
}
