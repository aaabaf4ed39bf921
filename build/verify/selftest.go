package verify

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// SelfTestRequest is the event the function answers with a report of its
// imports instead of serving a request (app/api.py).
const SelfTestRequest = `{"test":"imports"}`

// Invocation is the raw answer to the self-test Invoke.
type Invocation struct {
	// FunctionError is Lambda's X-Amz-Function-Error ("Unhandled",
	// "Handled"); empty when the function returned normally.
	FunctionError   string
	Payload         []byte
	ExecutedVersion string
}

// SelfTest is the function's report: {"ok": true, "packages": {"PIL":
// "11.0.0", ...}, "raw": true, "heic": true, "python": "3.11.9",
// "imports": {"PIL": {"ms": 41.2, "compiled": 0, "bytecode": true}, ...},
// "decode": {"raw": {"ok": true, "ms": 12.3, "via": "preview"}, ...},
// "initializationType": "snap-start", "primed": ["numpy", ...]}, or
// {"ok": false, "errors": {"rawpy": "ImportError: ..."}, ...}.
type SelfTest struct {
	OK       *bool             `json:"ok"`
	Packages map[string]string `json:"packages"`
	Errors   map[string]string `json:"errors"`
	Raw      *bool             `json:"raw"`
	HEIC     *bool             `json:"heic"`
	Python   string            `json:"python"`
	// Imports is absent from the answer of an app older than it.
	Imports map[string]ImportFigures `json:"imports"`
	// Decode is each bundled sample decoded with the layer's libraries,
	// by format ("raw", "heic", "jpeg"); absent from an older app's answer.
	Decode map[string]Decode `json:"decode"`
	// InitializationType is AWS_LAMBDA_INITIALIZATION_TYPE of the
	// environment that answered ("on-demand", "snap-start",
	// "provisioned-concurrency"); nil when unset or not reported.
	InitializationType *string `json:"initializationType"`
	// Primed are the packages the app imported during init ([] when
	// none); nil from an app older than it.
	Primed []string `json:"primed"`
}

// ImportFigures is the self-test's account of one package's first import
// in the function's container. Each is nil when the package was not
// measured (a request imported it before any self-test did).
type ImportFigures struct {
	MS *float64 `json:"ms"` // how long the import took
	// Compiled counts the modules compiled from source while importing
	// it: none when its bytecode was used.
	Compiled *int  `json:"compiled"`
	Bytecode *bool `json:"bytecode"` // true when Compiled is 0
}

// fromSource says whether the package was compiled from source at import.
func (f ImportFigures) fromSource() bool {
	return (f.Compiled != nil && *f.Compiled > 0) || (f.Bytecode != nil && !*f.Bytecode)
}

// String is how the self-test line shows the figures: "41 ms, bytecode",
// "880 ms, 130 modules compiled from source", or why there are none.
func (f ImportFigures) String() string {
	if f.MS == nil {
		return "loaded before the self-test, not measured"
	}
	s := milliseconds(*f.MS)
	switch {
	case f.Compiled != nil && *f.Compiled > 0:
		s += fmt.Sprintf(", %s compiled from source", plural(*f.Compiled, "module"))
	case f.Bytecode != nil && !*f.Bytecode:
		s += ", compiled from source"
	case f.Bytecode != nil || f.Compiled != nil:
		s += ", bytecode"
	}
	return s
}

// milliseconds rounds an import time as a person reads it: "41 ms",
// "4.2 ms", "<1 ms".
func milliseconds(ms float64) string {
	switch {
	case ms < 1:
		return "<1 ms"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
}

// wasWere and itThem agree a verb and a pronoun with a count of packages.
func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// ParseSelfTest reads the function's self-test answer. An answer wrapped as
// an API Gateway proxy response ({"statusCode": 200, "body": "{...}"}) is
// unwrapped.
func ParseSelfTest(payload []byte) (SelfTest, error) {
	var st SelfTest
	if err := json.Unmarshal(payload, &st); err != nil {
		return SelfTest{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if st.OK == nil {
		var proxy struct {
			Body *string `json:"body"`
		}
		if json.Unmarshal(payload, &proxy) == nil && proxy.Body != nil {
			return ParseSelfTest([]byte(*proxy.Body))
		}
		return SelfTest{}, fmt.Errorf(`no "ok" field`)
	}
	return st, nil
}

// Passed is the rule both the deploy's smoke test and verify apply: the
// report says ok, names no error, neither RAW nor HEIC decoding is
// reported off, and no bundled sample failed to decode.
func (st SelfTest) Passed() bool {
	return st.OK != nil && *st.OK && len(st.Errors) == 0 && len(st.CodecsOff()) == 0
}

// CodecsOff names the decoders the report says are unavailable: a sample
// that did not decode (with the app's error), or RAW or HEIC support
// reported off.
func (st SelfTest) CodecsOff() []string {
	var off []string
	keys, labels := decodeOrder(st.Decode)
	failed := map[string]bool{}
	for i, k := range keys {
		if d := st.Decode[k]; d.failed() {
			off = append(off, decodeFailure(labels[i], d))
			failed[k] = true
		}
	}
	if st.Raw != nil && !*st.Raw && !failed["raw"] {
		off = append(off, "RAW decoding (raw: false)")
	}
	if st.HEIC != nil && !*st.HEIC && !failed["heic"] {
		off = append(off, "HEIC decoding (heic: false)")
	}
	return off
}

// lambdaError is the payload Lambda returns when a function raised.
type lambdaError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// checkSelfTest is the self-test's line, and the report when the answer
// is one (nil when the function raised or answered something else).
func checkSelfTest(f Facts) (Result, *SelfTest) {
	inv := *f.SelfTest
	fn := f.Function
	r := Result{Check: "self-test", Status: Fail}
	reproduce, logs := selfTestHelp(fn)
	if inv.FunctionError != "" {
		var le lambdaError
		msg := oneLine(string(inv.Payload))
		if json.Unmarshal(inv.Payload, &le) == nil && le.ErrorMessage != "" {
			msg = oneLine(strings.TrimPrefix(le.ErrorType+": "+le.ErrorMessage, ": "))
		}
		r.Detail = fmt.Sprintf("the function raised (%s error): %s", inv.FunctionError, msg)
		r.Fix = "read the logs: " + logs
		if le.ErrorType == "Runtime.ImportModuleError" {
			r.Fix = fmt.Sprintf("the handler cannot import a module: check the layer lines above, reproduce with %s, and read the logs: %s", reproduce, logs)
		}
		return r, nil
	}
	st, err := ParseSelfTest(inv.Payload)
	if err != nil {
		r.Detail = fmt.Sprintf("the answer to %s is not a self-test report (%v): %s", SelfTestRequest, err, oneLine(string(inv.Payload)))
		r.Fix = "deploy the app with the self-test handler (app/api.py answers " + SelfTestRequest + ")"
		return r, nil
	}
	if !*st.OK || len(st.Errors) > 0 {
		var errs []string
		for _, name := range slices.Sorted(maps.Keys(st.Errors)) {
			errs = append(errs, name+": "+oneLine(st.Errors[name]))
		}
		if off := st.CodecsOff(); len(errs) == 0 && len(off) > 0 {
			r.Detail = fmt.Sprintf("on python %s: %s failed", orDash(st.Python), strings.Join(off, " and "))
			r.Fix = codecFix(reproduce, logs)
			return r, &st
		}
		if len(errs) == 0 {
			errs = []string{"the report names no package"}
		}
		r.Detail = fmt.Sprintf("on python %s: %s", orDash(st.Python), strings.Join(errs, "; "))
		r.Fix = importFix(errs, reproduce, logs)
		return r, &st
	}
	if off := st.CodecsOff(); len(off) > 0 {
		r.Detail = fmt.Sprintf("imports worked but %s is unavailable", strings.Join(off, " and "))
		r.Fix = codecFix(reproduce, logs)
		return r, &st
	}
	var pkgs, compiled []string
	var total float64
	measured := 0
	for _, name := range slices.Sorted(maps.Keys(st.Packages)) {
		pkg := name + " " + st.Packages[name]
		if fig, ok := st.Imports[name]; ok {
			pkg += " (" + fig.String() + ")"
			if fig.MS != nil {
				total += *fig.MS
				measured++
			}
			if fig.fromSource() {
				compiled = append(compiled, name)
			}
		}
		pkgs = append(pkgs, pkg)
	}
	r.Status = OK
	r.Detail = fmt.Sprintf("python %s imports %s", orDash(st.Python), orNone(strings.Join(pkgs, ", ")))
	if measured > 1 {
		r.Detail += fmt.Sprintf("; %s in all", milliseconds(total))
	}
	if inv.ExecutedVersion != "" {
		r.Detail = fmt.Sprintf("version %s, %s", inv.ExecutedVersion, r.Detail)
	}
	if len(compiled) > 0 {
		// Not a failure (a layer built with --no-bytecode works), but the
		// cost is paid at every cold start, so it is said plainly.
		r.Detail += fmt.Sprintf("; %s %s compiled from source at import, because the layer or the function package has no usable bytecode for python %s: "+
			"every cold start compiles %s again (build with bytecode, i.e. without --no-bytecode, with python%s on the build machine)",
			joinAnd(compiled), wasWere(len(compiled)), orDash(st.Python), itThem(len(compiled)), minorOf(st.Python, fn.Runtime))
	}
	return r, &st
}

// joinAnd lists names as a sentence does: "a", "a and b", "a, b and c".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// minorOf is the major.minor of the reported Python ("3.11.9" -> "3.11"),
// else the runtime's, for naming the interpreter to build with.
func minorOf(python, runtime string) string {
	if parts := strings.Split(python, "."); len(parts) >= 2 && parts[0] != "" && parts[1] != "" {
		return parts[0] + "." + parts[1]
	}
	if v, ok := strings.CutPrefix(runtime, "python"); ok {
		return v
	}
	return "3.X"
}

// importFix says what to do about failed imports, by the kind of error:
// a missing shared object is a wheel built for another platform, a
// missing module one the layer does not hold.
func importFix(errs []string, reproduce, logs string) string {
	text := strings.Join(errs, " ")
	switch {
	case strings.Contains(text, "cannot open shared object file") || strings.Contains(text, "GLIBC_"):
		return fmt.Sprintf("a compiled library does not fit the runtime's platform: check the layer's wheels with lambdapack check --runtime RUNTIME --arch ARCH, reproduce with %s", reproduce)
	case strings.Contains(text, "No module named"):
		return fmt.Sprintf("the module is not in the layer or the layer is not attached: check the layer lines above and the lock, reproduce with %s", reproduce)
	default:
		return fmt.Sprintf("reproduce with %s, and read the logs: %s", reproduce, logs)
	}
}

// selfTestHelp is how a person reproduces a self-test failure locally and
// where they read the function's own account of it.
func selfTestHelp(fn Function) (reproduce, logs string) {
	reproduce = fmt.Sprintf("lambdapack test --zip LAYER.zip --python %s --import MODULE", pythonFor(fn.Runtime))
	logs = fmt.Sprintf("aws logs tail /aws/lambda/%s --since 15m", functionName(fn))
	return reproduce, logs
}

// codecFix is the fix when the packages import but a decoder does not work.
func codecFix(reproduce, logs string) string {
	return "the layer's rawpy, pillow-heif or Pillow wheel lacks a working codec: reproduce with " + reproduce + " and read the logs: " + logs
}

// functionName is the function's bare name, for its log group.
func functionName(fn Function) string {
	if parts := strings.Split(fn.ARN, ":"); len(parts) >= 7 && parts[5] == "function" {
		return parts[6]
	}
	if parts := strings.Split(fn.Name, ":"); len(parts) >= 7 && parts[5] == "function" {
		return parts[6]
	}
	return fn.Name
}

// pythonFor names the interpreter for a runtime: python3.11 -> python3.11.
func pythonFor(runtime string) string {
	if strings.HasPrefix(runtime, "python3.") {
		return runtime
	}
	return "python3.X"
}

// oneLine squeezes text onto one line of at most 300 characters, so a
// traceback or an HTML error page cannot flood the report.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:297]) + "..."
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "no packages"
	}
	return s
}
