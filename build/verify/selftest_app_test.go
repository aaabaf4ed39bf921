package verify

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// verify reads what the app's real self-test says. The app's
// handlers/selftest.py runs under Python 3.11 with no site-packages, as a
// function without its layer would: every layer package fails to import,
// and the verdict names each one.
func TestSelfTestOfTheRealApp(t *testing.T) {
	python := testenv.FindPython(t, "3.11")
	app, err := filepath.Abs(filepath.Join("..", "..", "app"))
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []struct{ name, expr string }{
		{"direct", "selftest.run()"},
		{"API Gateway", "selftest.api_result(selftest.run())"},
	} {
		t.Run(form.name, func(t *testing.T) {
			// -I -S: no user or site packages, so nothing of the layer is there.
			cmd := exec.Command(python, "-I", "-S", "-B", "-c",
				"import json, sys; sys.path.insert(0, sys.argv[1]); from handlers import selftest; print(json.dumps("+form.expr+"))", app)
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("app self-test: %v\n%s", err, stderr)
			}
			f := healthy(t)
			f.SelfTest = &Invocation{Payload: out}
			rs := Check(f)
			r := selfTestResult(t, rs)
			line := r.String()
			if r.Check != "self-test" || r.Status != Fail {
				t.Fatalf("got %q, want a failed self-test", line)
			}
			for _, want := range []string{
				"on python 3.11.",
				"PIL: ModuleNotFoundError: No module named 'PIL'",
				"numpy: ModuleNotFoundError: No module named 'numpy'",
				"pillow_heif: ModuleNotFoundError: No module named 'pillow_heif'",
				"rawpy: ModuleNotFoundError: No module named 'rawpy'",
				"the module is not in the layer or the layer is not attached",
			} {
				if !strings.Contains(line, want) {
					t.Errorf("line %q lacks %q", line, want)
				}
			}
		})
	}
}

// verify shows where the real app's self-test says the import time went:
// the app imports a stand-in layer of real files (app/tests/disklayer.py)
// with the real interpreter, read-only as on Lambda (-B), once with the
// layer's unchecked-hash bytecode and once without any.
func TestSelfTestImportFiguresOfTheRealApp(t *testing.T) {
	app, err := filepath.Abs(filepath.Join("..", "..", "app"))
	if err != nil {
		t.Fatal(err)
	}
	ms := `(<1|[0-9]+(\.[0-9])?) ms`
	for _, minor := range []string{"3.11", "3.12"} {
		python := testenv.FindPython(t, minor)
		for _, bytecode := range []bool{true, false} {
			name := "python" + minor + " without bytecode"
			want := []string{
				`PIL 11\.0\.0 \(` + ms + `, 2 modules compiled from source\)`,
				`numpy 2\.1\.3 \(` + ms + `, 2 modules compiled from source\)`,
				`pillow_heif 0\.20\.0 \(` + ms + `, 2 modules compiled from source\)`,
				`rawpy 0\.24\.0 \(` + ms + `, 1 module compiled from source\)`,
				`; ` + ms + ` in all; PIL, numpy, pillow_heif and rawpy were compiled from source at import, because the layer or the function package has no usable bytecode for python ` +
					regexp.QuoteMeta(minor) + `\.[0-9]+: every cold start compiles them again \(build with bytecode, i\.e\. without --no-bytecode, with python` + regexp.QuoteMeta(minor) + ` on the build machine\)$`,
			}
			if bytecode {
				name = "python" + minor + " with bytecode"
				want = []string{
					`^ok   self-test: python ` + regexp.QuoteMeta(minor) + `\.[0-9]+ imports PIL 11\.0\.0 \(` + ms + `, bytecode\), numpy 2\.1\.3 \(` + ms + `, bytecode\), ` +
						`pillow_heif 0\.20\.0 \(` + ms + `, bytecode\), rawpy 0\.24\.0 \(` + ms + `, bytecode\); ` + ms + ` in all$`,
				}
			}
			t.Run(name, func(t *testing.T) {
				layer := t.TempDir()
				arg := ""
				if bytecode {
					arg = "--bytecode"
				}
				// -I: no PYTHONPYCACHEPREFIX to send bytecode elsewhere;
				// -B: nothing written into app/.
				run(t, exec.Command(python, "-I", "-B", "-c",
					"import sys; sys.path.insert(0, sys.argv[1]); from tests import disklayer; disklayer.write(sys.argv[2], sys.argv[3] == '--bytecode')", app, layer, arg))
				out := run(t, exec.Command(python, "-I", "-S", "-B", "-c",
					"import json, sys; sys.path[:0] = sys.argv[1:]; from handlers import selftest; print(json.dumps(selftest.run()))", app, layer))
				f := healthy(t)
				f.SelfTest = &Invocation{Payload: out}
				rs := Check(f)
				r := selfTestResult(t, rs)
				line := r.String()
				t.Log(line)
				if r.Check != "self-test" || r.Status != OK {
					t.Fatalf("got %q, want a passed self-test", line)
				}
				for _, re := range want {
					if !regexp.MustCompile(re).MatchString(line) {
						t.Errorf("line %q does not match %s", line, re)
					}
				}
			})
		}
	}
}

// run runs cmd and returns its stdout, failing t with its stderr.
func run(t *testing.T, cmd *exec.Cmd) []byte {
	t.Helper()
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s: %v\n%s", cmd, err, stderr)
	}
	return out
}
