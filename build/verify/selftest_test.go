package verify

import (
	"strings"
	"testing"
)

// The self-test line for each answer the function (app/handlers/selftest.py)
// or Lambda itself can give.
func TestSelfTest(t *testing.T) {
	cases := []struct {
		name   string
		inv    Invocation
		status Status
		text   []string
	}{
		{"ok", Invocation{ExecutedVersion: "7", Payload: []byte(`{"ok": true, "packages": {"PIL": "11.0.0", "rawpy": "0.24.0", "pillow_heif": "0.20.0", "numpy": "2.1.3"}, "raw": true, "heic": true, "python": "3.11.9"}`)},
			OK, []string{"ok   self-test: version 7, python 3.11.9 imports PIL 11.0.0, numpy 2.1.3, pillow_heif 0.20.0, rawpy 0.24.0"}},
		{"ok, with each import's figures", Invocation{ExecutedVersion: "7", Payload: []byte(`{"ok": true, "packages": {"PIL": "11.0.0", "rawpy": "0.24.0", "pillow_heif": "0.20.0", "numpy": "2.1.3"}, "raw": true, "heic": true, "python": "3.11.9",
			"imports": {"PIL": {"ms": 41.2, "compiled": 0, "bytecode": true}, "rawpy": {"ms": 4.24, "compiled": 0, "bytecode": true}, "pillow_heif": {"ms": 0.4, "compiled": 0, "bytecode": true}, "numpy": {"ms": 88.5, "compiled": 0, "bytecode": true}}}`)},
			OK, []string{"ok   self-test: version 7, python 3.11.9 imports PIL 11.0.0 (41 ms, bytecode), numpy 2.1.3 (88 ms, bytecode), pillow_heif 0.20.0 (<1 ms, bytecode), rawpy 0.24.0 (4.2 ms, bytecode); 134 ms in all"}},
		{"ok, but packages compiled from source", Invocation{ExecutedVersion: "8", Payload: []byte(`{"ok": true, "packages": {"PIL": "11.0.0", "rawpy": "0.24.0", "numpy": "2.1.3"}, "raw": true, "heic": true, "python": "3.12.1",
			"imports": {"PIL": {"ms": 120.0, "compiled": 1, "bytecode": false}, "rawpy": {"ms": 12.0, "compiled": 0, "bytecode": true}, "numpy": {"ms": 880.4, "compiled": 130, "bytecode": false}}}`)},
			OK, []string{"ok   self-test: version 8, python 3.12.1 imports PIL 11.0.0 (120 ms, 1 module compiled from source), numpy 2.1.3 (880 ms, 130 modules compiled from source), rawpy 0.24.0 (12 ms, bytecode); 1012 ms in all; " +
				"PIL and numpy were compiled from source at import, because the layer or the function package has no usable bytecode for python 3.12.1: every cold start compiles them again (build with bytecode, i.e. without --no-bytecode, with python3.12 on the build machine)"}},
		{"ok, one package compiled from source", Invocation{Payload: []byte(`{"ok": true, "packages": {"numpy": "2.1.3"}, "raw": true, "heic": true, "python": "3.11.9", "imports": {"numpy": {"ms": 880.4, "compiled": 130, "bytecode": false}}}`)},
			OK, []string{"ok   self-test: python 3.11.9 imports numpy 2.1.3 (880 ms, 130 modules compiled from source); numpy was compiled from source at import, because the layer or the function package has no usable bytecode for python 3.11.9: every cold start compiles it again (build with bytecode, i.e. without --no-bytecode, with python3.11 on the build machine)"}},
		{"ok, one package loaded before the self-test", Invocation{Payload: []byte(`{"ok": true, "packages": {"PIL": "11.0.0", "numpy": "2.1.3"}, "raw": true, "heic": true, "python": "3.11.9",
			"imports": {"PIL": {"ms": null, "compiled": null, "bytecode": null}, "numpy": {"ms": 88.0, "compiled": 0, "bytecode": true}}}`)},
			OK, []string{"ok   self-test: python 3.11.9 imports PIL 11.0.0 (loaded before the self-test, not measured), numpy 2.1.3 (88 ms, bytecode)"}},
		{"a package with a missing shared library", Invocation{Payload: []byte(`{"ok": false, "errors": {"rawpy": "ImportError: libraw_r.so.23: cannot open shared object file: No such file or directory"}, "packages": {"PIL": "11.0.0"}, "raw": false, "heic": true, "python": "3.11.9"}`)},
			Fail, []string{"on python 3.11.9: rawpy: ImportError: libraw_r.so.23: cannot open shared object file", "lambdapack check", "lambdapack test --zip LAYER.zip --python python3.11 --import MODULE"}},
		{"several packages missing", Invocation{Payload: []byte(`{"ok": false, "errors": {"rawpy": "ModuleNotFoundError: No module named 'rawpy'", "PIL": "ModuleNotFoundError: No module named 'PIL'"}, "packages": {}, "python": "3.11.9"}`)},
			Fail, []string{"PIL: ModuleNotFoundError: No module named 'PIL'; rawpy: ModuleNotFoundError", "not in the layer or the layer is not attached"}},
		{"codec disabled", Invocation{Payload: []byte(`{"ok": false, "errors": {"pillow_heif": "HEIC support disabled: libheif 1.18.2 has no decoders"}, "packages": {"pillow_heif": "0.20.0"}, "raw": true, "heic": false, "python": "3.11.9"}`)},
			Fail, []string{"pillow_heif: HEIC support disabled: libheif 1.18.2 has no decoders", "aws logs tail /aws/lambda/galerly-api-prod"}},
		{"ok claimed but a codec off", Invocation{Payload: []byte(`{"ok": true, "packages": {}, "raw": false, "heic": true, "python": "3.11.9"}`)},
			Fail, []string{"RAW decoding (raw: false) is unavailable"}},
		{"ok false without errors", Invocation{Payload: []byte(`{"ok": false, "python": "3.11.9"}`)},
			Fail, []string{"the report names no package"}},
		{"API Gateway form", Invocation{Payload: []byte(`{"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{\"ok\": true, \"packages\": {\"numpy\": \"2.1.3\"}, \"raw\": true, \"heic\": true, \"python\": \"3.11.9\"}"}`)},
			OK, []string{"python 3.11.9 imports numpy 2.1.3"}},
		{"API Gateway form, failed", Invocation{Payload: []byte(`{"statusCode": 500, "body": "{\"ok\": false, \"errors\": {\"numpy\": \"ImportError: x\"}}"}`)},
			Fail, []string{"numpy: ImportError: x"}},
		{"handler cannot import", Invocation{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage": "Unable to import module 'api': No module named 'rawpy'", "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}`)},
			Fail, []string{"the function raised (Unhandled error): Runtime.ImportModuleError: Unable to import module 'api': No module named 'rawpy'", "the handler cannot import a module", "aws logs tail /aws/lambda/galerly-api-prod --since 15m"}},
		{"timeout", Invocation{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"2026-11-28T10:00:00.000Z abc Task timed out after 30.03 seconds"}`)},
			Fail, []string{"the function raised (Unhandled error): 2026-11-28T10:00:00.000Z abc Task timed out after 30.03 seconds: read the logs"}},
		{"error that is not JSON", Invocation{FunctionError: "Handled", Payload: []byte("error running docker:\n  Cannot connect")},
			Fail, []string{"the function raised (Handled error): error running docker: Cannot connect"}},
		{"not JSON", Invocation{Payload: []byte(`Simple Lambda happy path OK`)},
			Fail, []string{"is not a self-test report (not a JSON object", "Simple Lambda happy path OK", "deploy the app with the self-test handler"}},
		{"an ordinary API answer", Invocation{Payload: []byte(`{"statusCode": 404, "body": "{\"message\": \"not found\"}"}`)},
			Fail, []string{`no "ok" field`}},
		{"null", Invocation{Payload: []byte(`null`)},
			Fail, []string{`no "ok" field`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := healthy(t)
			f.SelfTest = &c.inv
			rs := Check(f)
			r := selfTestResult(t, rs)
			line := r.String()
			if r.Check != "self-test" || r.Status != c.status {
				t.Errorf("got %q, want a self-test line with status %s", line, c.status)
			}
			if strings.Contains(line, "\n") {
				t.Errorf("line %q spans lines", line)
			}
			// A whole line is given for the answers that pass: it must be
			// exactly that (an app older than "imports" keeps its old line).
			if strings.HasPrefix(c.text[0], "ok   ") && line != c.text[0] {
				t.Errorf("line:\n%s\nwant:\n%s", line, c.text[0])
			}
			for _, s := range c.text {
				if !strings.Contains(line, s) {
					t.Errorf("line %q lacks %q", line, s)
				}
			}
		})
	}
}

// A traceback or an HTML page as the payload stays one readable line.
func TestSelfTestLongPayload(t *testing.T) {
	f := healthy(t)
	f.SelfTest = &Invocation{FunctionError: "Unhandled", Payload: []byte(strings.Repeat("Traceback line é\n", 200))}
	rs := Check(f)
	line := selfTestResult(t, rs).String()
	if strings.Contains(line, "\n") || len(line) > 900 || !strings.Contains(line, "...") {
		t.Errorf("long payload not cut to one line: %d bytes: %q", len(line), line)
	}
}

// selfTestResult returns the self-test's own line among rs (the decode and
// init lines follow it).
func selfTestResult(t *testing.T, rs []Result) Result {
	t.Helper()
	for _, r := range rs {
		if r.Check == "self-test" {
			return r
		}
	}
	t.Fatalf("no self-test line among %q", rs)
	return Result{}
}

// The lines after the self-test's own, for reports with the app's decode
// and init fields, and none for an older report: each case gives every
// line from the self-test's on, exactly or (ending in "...") by prefix.
func TestSelfTestDecodeAndInit(t *testing.T) {
	const pkgs = `"packages": {"PIL": "11.0.0", "numpy": "2.1.3", "pillow_heif": "0.20.0", "rawpy": "0.27.0"}, "python": "3.12.1"`
	const decoded = `"decode": {"raw": {"ok": true, "ms": 12.34, "via": "preview"}, "heic": {"ok": true, "ms": 3.1, "via": "pillow_heif"}, "jpeg": {"ok": true, "ms": 0.42, "via": "PIL"}}`
	const okLine = "ok   self-test: version 7, python 3.12.1 imports PIL 11.0.0, numpy 2.1.3, pillow_heif 0.20.0, rawpy 0.27.0"
	cases := []struct {
		name    string
		payload string
		status  Status // of the whole run
		lines   []string
	}{
		{"snap-start, all primed", `{"ok": true, ` + pkgs + `, "raw": true, "heic": true, ` + decoded + `, "initializationType": "snap-start", "primed": ["numpy", "PIL", "pillow_heif", "rawpy"]}`,
			OK, []string{okLine,
				"ok   RAW: decoded in 12.3 ms via preview",
				"ok   HEIC: decoded in 3.1 ms via pillow_heif",
				"ok   JPEG: decoded in 0.4 ms via PIL",
				"ok   init: snap-start; primed in init: numpy, PIL, pillow_heif, rawpy"}},
		{"on-demand, nothing primed", `{"ok": true, ` + pkgs + `, "raw": true, "heic": true, ` + decoded + `, "initializationType": "on-demand", "primed": []}`,
			OK, []string{okLine, "ok   RAW: decoded in 12.3 ms via preview", "ok   HEIC: decoded in 3.1 ms via pillow_heif", "ok   JPEG: decoded in 0.4 ms via PIL",
				"ok   init: on-demand; nothing primed in init"}},
		{"snap-start, nothing primed", `{"ok": true, ` + pkgs + `, "raw": true, "heic": true, ` + decoded + `, "initializationType": "snap-start", "primed": []}`,
			OK, []string{okLine, "ok   RAW: decoded in 12.3 ms via preview", "ok   HEIC: decoded in 3.1 ms via pillow_heif", "ok   JPEG: decoded in 0.4 ms via PIL",
				"ok   init: snap-start; nothing primed in init: restored environments import the image packages at their first request"}},
		{"initialization type unset", `{"ok": true, ` + pkgs + `, "raw": true, "heic": true, "decode": {"jpeg": {"ok": true, "ms": 15, "via": "PIL"}}, "initializationType": null, "primed": []}`,
			OK, []string{okLine, "ok   JPEG: decoded in 15.0 ms via PIL", "ok   init: initialization type not reported (AWS_LAMBDA_INITIALIZATION_TYPE unset); nothing primed in init"}},
		{"RAW sample does not decode, named by the app's errors", `{"ok": false, "errors": {"rawpy": "RAW support disabled: sample not decoded: LibRawFileUnsupportedError: b'Unsupported file format or not RAW file'"}, ` + pkgs +
			`, "raw": false, "heic": true, "decode": {"raw": {"ok": false, "ms": null, "via": null, "error": "LibRawFileUnsupportedError: b'Unsupported file format or not RAW file'"}, "heic": {"ok": true, "ms": 3.1, "via": "pillow_heif"}, "jpeg": {"ok": true, "ms": 0.42, "via": "PIL"}}, "initializationType": "on-demand", "primed": []}`,
			Fail, []string{"FAIL self-test: on python 3.12.1: rawpy: RAW support disabled: sample not decoded: LibRawFileUnsupportedError: b'Unsupported file format or not RAW file': ...",
				"FAIL RAW: FAILED: LibRawFileUnsupportedError: b'Unsupported file format or not RAW file': rawpy imports but its LibRaw cannot decode the app's DNG sample (a vendored library missing or built for another CPU, or a broken wheel): " +
					"check the layer's rawpy wheel with lambdapack check, reproduce with lambdapack test --zip LAYER.zip --python python3.11 --import MODULE, and read the logs: aws logs tail /aws/lambda/galerly-api-prod --since 15m",
				"ok   HEIC: decoded in 3.1 ms via pillow_heif",
				"ok   JPEG: decoded in 0.4 ms via PIL",
				"ok   init: on-demand; nothing primed in init"}},
		{"HEIC sample does not decode, ok false naming nothing else", `{"ok": false, ` + pkgs + `, "raw": true, "heic": false, "decode": {"raw": {"ok": true, "ms": 20, "via": "demosaic"}, "heic": {"ok": false, "ms": null, "via": null, "error": "ValueError: No decoder found"}}}`,
			Fail, []string{"FAIL self-test: on python 3.12.1: HEIC decoding (the sample did not decode: ValueError: No decoder found) failed: the layer's rawpy, pillow-heif or Pillow wheel lacks a working codec: ...",
				"ok   RAW: decoded in 20.0 ms via demosaic",
				"FAIL HEIC: FAILED: ValueError: No decoder found: pillow_heif imports but its libheif cannot decode the app's HEIC sample: ..."}},
		{"ok claimed but a sample failed", `{"ok": true, ` + pkgs + `, "raw": true, "heic": true, "decode": {"jpeg": {"ok": false, "error": "OSError: decoder jpeg not available"}}}`,
			Fail, []string{"FAIL self-test: imports worked but JPEG decoding (the sample did not decode: OSError: decoder jpeg not available) is unavailable: ...",
				"FAIL JPEG: FAILED: OSError: decoder jpeg not available: Pillow imports but cannot decode the app's JPEG sample: ..."}},
		{"failure without an error, a format verify does not know, no verdict", `{"ok": false, ` + pkgs + `, "decode": {"webp": {"ok": false}, "raw": {"ms": 3}}}`,
			Fail, []string{"FAIL self-test: on python 3.12.1: WEBP decoding (the sample did not decode: the report gives no error) failed: ...",
				"skip RAW: the report gives no verdict for this sample",
				"FAIL WEBP: FAILED: the report gives no error: the layer's library for this format cannot decode the app's sample, reproduce with ..."}},
		{"an app older than the fields", `{"ok": true, ` + pkgs + `, "raw": true, "heic": true}`,
			OK, []string{okLine}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := healthy(t)
			f.SelfTest = &Invocation{ExecutedVersion: "7", Payload: []byte(c.payload)}
			rs := Check(f)
			var got []string
			seen := false
			for _, r := range rs {
				seen = seen || r.Check == "self-test"
				if seen {
					got = append(got, r.String())
				}
			}
			if len(got) != len(c.lines) {
				t.Fatalf("%d lines from the self-test on, want %d:\n%s", len(got), len(c.lines), strings.Join(got, "\n"))
			}
			for i, want := range c.lines {
				if p, ok := strings.CutSuffix(want, "..."); ok && strings.HasPrefix(got[i], p) || got[i] == want {
					continue
				}
				t.Errorf("line %d:\n%s\nwant:\n%s", i, got[i], want)
			}
			if failed := Failed(rs); failed != (c.status == Fail) {
				t.Errorf("Failed() = %v, want %v", failed, c.status == Fail)
			}
			st, err := ParseSelfTest([]byte(c.payload))
			if err != nil {
				t.Fatal(err)
			}
			if st.Passed() != (c.status == OK) {
				t.Errorf("Passed() = %v: the deploy's smoke test would disagree with verify", st.Passed())
			}
		})
	}
}
