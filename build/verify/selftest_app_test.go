package verify

import (
	"os/exec"
	"path/filepath"
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
			r := rs[len(rs)-1]
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
