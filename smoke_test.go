package main

import (
	"strings"
	"testing"
)

// The smoke test's verdict on each answer the app's self-test
// (app/handlers/selftest.py) can give, and on answers from a handler that
// does not run it.
func TestCheckSelfTest(t *testing.T) {
	long := strings.Repeat("x", 2*maxDetail)
	for _, tc := range []struct {
		name, result string
		want         []string // in the error; nil for a pass
		not          []string // never in the error
	}{
		{"ok", selfTestOK, nil, nil},
		{"one package fails to import",
			`{"ok": false, "errors": {"rawpy": "ImportError: libraw_r.so.23: cannot open shared object file"}, "packages": {"PIL": "11.0.0"}, "raw": false, "heic": true, "python": "3.11.9"}`,
			[]string{"1 package(s) failed on Python 3.11.9", "rawpy (ImportError: libraw_r.so.23"}, nil},
		{"several fail, named in order",
			`{"ok": false, "errors": {"pillow_heif": "HEIC support disabled: no decoders", "PIL": "ModuleNotFoundError: No module named 'PIL'"}}`,
			[]string{"2 package(s) failed", "PIL (ModuleNotFoundError: No module named 'PIL'); pillow_heif (HEIC support disabled"}, nil},
		{"an error that is not text", `{"ok": false, "errors": {"numpy": {"type": "ImportError"}}}`,
			[]string{"not the self-test's report", `"numpy"`}, nil},
		{"a long traceback is clipped", `{"ok": false, "errors": {"numpy": "` + long + `"}}`,
			[]string{"numpy (" + long[:maxDetail] + "...)"}, []string{long}},
		{"not ok without a package", `{"ok": false}`, []string{"without naming a package"}, nil},
		{"ok but a codec is off", `{"ok": true, "packages": {"rawpy": "0.24.0"}, "raw": false, "heic": true}`,
			[]string{"import but RAW decoding (raw: false) is unavailable"}, nil},
		// The self-test decodes a RAW, a HEIC and a JPEG sample: a sample
		// that fails turns its codec and ok off (issue 15).
		{"a RAW sample that does not decode",
			`{"ok": false, "packages": {"PIL": "11.0.0", "rawpy": "0.27.0", "pillow_heif": "1.1.0", "numpy": "2.1.3"}, "raw": false, "heic": true,` +
				` "decode": {"raw": {"ok": false, "ms": 4.2, "via": null}, "heic": {"ok": true, "ms": 9.8, "via": "pillow_heif"}, "jpeg": {"ok": true, "ms": 1.1, "via": "PIL"}}}`,
			[]string{"import but RAW decoding (the sample did not decode: the report gives no error) is unavailable"}, []string{"without naming a package"}},
		{"a HEIC sample that does not decode",
			`{"ok": false, "packages": {"pillow_heif": "1.1.0"}, "raw": true, "heic": false, "decode": {"heic": {"ok": false}}}`,
			[]string{"import but HEIC decoding (the sample did not decode: the report gives no error) is unavailable"}, nil},
		{"decode results that all passed", `{"ok": true, "packages": {"rawpy": "0.27.0"}, "raw": true, "heic": true,` +
			` "decode": {"raw": {"ok": true, "ms": 12.3, "via": "preview"}, "heic": {"ok": true, "ms": 9.8}, "jpeg": {"ok": true, "ms": 1.1}}}`, nil, nil},
		{"a handler that does not run the self-test", `{"ok": null, "error": "unsupported direct invocation (keys: test)"}`,
			[]string{"does not run the self-test", "unsupported direct invocation"}, nil},
		{"an answer without ok", `{"statusCode": 200, "body": "{}"}`, []string{`no "ok"`, `{"test":"imports"}`}, nil},
		{"not JSON", `Task timed out after 30.00 seconds`, []string{"not the self-test's report", "Task timed out"}, nil},
		{"empty", ``, []string{"not the self-test's report"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSelfTest(tc.result)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want a pass", err)
				}
				return
			}
			if err == nil {
				t.Fatal("passed, want a failure")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q: %v", w, err)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error contains %q", n)
				}
			}
		})
	}
}
