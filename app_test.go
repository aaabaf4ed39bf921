package main

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/source"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// appTestRuntimes are the Pythons the function's unit tests run under: the
// prod function's runtime and the newer ones it should keep working on.
var appTestRuntimes = []string{"3.11", "3.12", "3.13"}

var ranTestsRE = regexp.MustCompile(`(?m)^Ran ([0-9]+) tests? in `)

// The function's Python unit tests (app/tests, stdlib unittest) pass under
// each real interpreter, so `go test ./...` is the one command that runs
// them too. They write no bytecode: app/ is what the code key is computed
// over, and a test run must not leave __pycache__ folders in it.
func TestAppUnitTests(t *testing.T) {
	for _, minor := range appTestRuntimes {
		t.Run("python"+minor, func(t *testing.T) {
			t.Parallel()
			py := testenv.FindPython(t, minor)
			// -B for this interpreter; the suite passes -B to those it starts.
			// PYTHONPYCACHEPREFIX catches any that would still write, away
			// from app/, and the check below fails the test if one did.
			// -s keeps the user's site-packages out, so a developer's own
			// Pillow or numpy does not change what runs.
			pycache := t.TempDir()
			cmd := exec.Command(py, "-B", "-s", "-m", "unittest", "discover", "-s", "app", "-t", "app", "-v")
			cmd.Env = append(os.Environ(),
				"PYTHONPYCACHEPREFIX="+pycache,
				"PYTHONDONTWRITEBYTECODE=",
				"PYTHONPATH=",
				"LOG_LEVEL=",
				"AWS_LAMBDA_LOG_LEVEL=",
			)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("python%s -m unittest discover -s app -t app: %v\n%s", minor, err, out)
			}
			if m := ranTestsRE.FindSubmatch(out); m == nil || string(m[1]) == "0" {
				t.Fatalf("python%s: the suite ran no tests:\n%s", minor, out)
			}
			if written := appBytecode(t, pycache); len(written) > 0 {
				t.Errorf("python%s: an interpreter the suite ran wrote bytecode for app/ (without -B?); without PYTHONPYCACHEPREFIX it would be in app/: %v", minor, written)
			}
		})
	}
}

// appBytecode lists the bytecode files under the PYTHONPYCACHEPREFIX
// folder prefix that belong to app/'s sources (the prefix mirrors each
// source's absolute path; the stdlib's own may be there too and are left out).
func appBytecode(t *testing.T, prefix string) []string {
	t.Helper()
	app, err := filepath.Abs("app")
	if err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(prefix, app)
	var found []string
	err = filepath.WalkDir(mirror, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(mirror, path)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("walking %s: %v", mirror, err)
	}
	return found
}

// The function as lambdapack packs it: the default excludes leave the test
// suite out, and what ships runs on its own, with only the stdlib and no
// layer, as a fresh Lambda would start it.
func TestAppPackedWithoutTests(t *testing.T) {
	tree, err := source.Walk("app", source.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tree.Excluded, "tests/") {
		t.Errorf("app/tests/ is not excluded; excluded: %v", tree.Excluded)
	}
	dir := t.TempDir()
	var shipped []string
	for _, f := range tree.Files {
		shipped = append(shipped, f.Path)
		if strings.HasPrefix(f.Path, "tests/") || strings.HasPrefix(filepath.Base(f.Path), "test_") {
			t.Errorf("a test file ships: %s", f.Path)
		}
		copyShipped(t, f, filepath.Join(dir, filepath.FromSlash(f.Path)))
	}
	// The self-test's samples ship: the smoke test decodes them on Lambda.
	for _, want := range []string{"api.py", "handlers/selftest.py", "handlers/images.py", "utils/request.py",
		"imaging/raw.py", "samples/sample.dng", "samples/sample.heic", "samples/sample.jpg"} {
		if !slices.Contains(shipped, want) {
			t.Errorf("%s does not ship; shipped: %v", want, shipped)
		}
	}
	if len(tree.Warnings) > 0 {
		t.Errorf("packing app/ warns: %v", tree.Warnings)
	}

	py := testenv.FindPython(t, "3.11")
	// -I -S: no environment, no site-packages, the script's folder not on
	// the path: the packed files and the stdlib only.
	prog := `import json, sys
sys.path.insert(0, sys.argv[1])
import api
health = api.handler({"rawPath": "/health", "requestContext": {"http": {"method": "GET"}, "stage": "$default"}}, None)
print(json.dumps({"health": health["statusCode"], "selftest": api.handler({"test": "imports"}, None)}))`
	cmd := exec.Command(py, "-B", "-I", "-S", "-c", prog, dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the packed function does not run: %v\n%s", err, stderrOf(err))
	}
	var got struct {
		Health int `json:"health"`
		// The answer as the Invocation resource hands it to the smoke test.
		RawSelfTest json.RawMessage `json:"selftest"`
		SelfTest    struct {
			OK     *bool             `json:"ok"`
			Errors map[string]string `json:"errors"`
		} `json:"-"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := json.Unmarshal(got.RawSelfTest, &got.SelfTest); err != nil {
		t.Fatalf("%v: %s", err, got.RawSelfTest)
	}
	// The smoke test reads the real answer to the direct invocation it
	// sends, and refuses it naming each package: the app's report and the
	// program's reading of it stay one shape.
	if err := checkSelfTest(string(got.RawSelfTest)); err == nil {
		t.Errorf("the smoke test passes the self-test of a function without its layer: %s", got.RawSelfTest)
	} else {
		for _, want := range []string{"4 package(s) failed on Python 3.11.", "PIL (ModuleNotFoundError", "numpy (ModuleNotFoundError", "pillow_heif (ModuleNotFoundError", "rawpy (ModuleNotFoundError"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("smoke test verdict %q lacks %q", err, want)
			}
		}
	}
	if got.Health != 200 {
		t.Errorf("GET /health answered %d", got.Health)
	}
	// Without the layer, the self-test must fail and name every package.
	if got.SelfTest.OK == nil || *got.SelfTest.OK {
		t.Errorf("self-test without a layer: ok %v, want false", got.SelfTest.OK)
	}
	for _, pkg := range []string{"PIL", "rawpy", "pillow_heif", "numpy"} {
		if want := "ModuleNotFoundError: No module named '" + pkg + "'"; got.SelfTest.Errors[pkg] != want {
			t.Errorf("self-test error for %s: %q, want %q", pkg, got.SelfTest.Errors[pkg], want)
		}
	}
}

// copyShipped writes the content of a shipped file to dst.
func copyShipped(t *testing.T, f source.File, dst string) {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// stderrOf returns what a failed command wrote to stderr, if it says.
func stderrOf(err error) []byte {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.Stderr
	}
	return nil
}

// realPillowPython is Debian's interpreter with its python3-pil package
// (.ci/run installs it): the pyenv interpreters have no Pillow and PyPI is
// out of reach, so this is where the thumbnail route meets a real Pillow.
const realPillowPython = "/usr/bin/python3"

// The thumbnail route on a real Pillow: a real JPEG of the right size,
// EXIF orientation applied, damaged images refused. The suite skips these
// where Pillow is missing; here they must run.
func TestAppImagesWithRealPillow(t *testing.T) {
	if err := exec.Command(realPillowPython, "-s", "-c", "import PIL").Run(); err != nil {
		testenv.SkipOrFail(t, "no Python with Pillow: %s -c 'import PIL': %v (apt-get install python3-pil)", realPillowPython, err)
	}
	cmd := exec.Command(realPillowPython, "-B", "-s", "-m", "unittest", "-v", "tests.test_images")
	cmd.Dir = "app"
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH=", "LOG_LEVEL=", "AWS_LAMBDA_LOG_LEVEL=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -m unittest tests.test_images: %v\n%s", realPillowPython, err, out)
	}
	real := regexp.MustCompile(`(?m)^test_\w+ \(tests\.test_images\.RealPillowTest\.\w+\) \.\.\. ok$`)
	if n := len(real.FindAll(out, -1)); n < 4 {
		t.Errorf("%d real-Pillow tests passed, want all 4 to run (none skipped):\n%s", n, out)
	}
}

// realDecoderTests are the app's test classes that decode with real
// libraries (Debian's LibRaw through tests/libraw_ctypes, Pillow, numpy,
// tifffile, libheif's tools) and talk to S3 on moto_server; each skips
// itself where something is missing, so this test checks none did.
var realDecoderTests = []string{"tests.test_raw", "tests.test_samples", "tests.test_photos"}

var (
	realDecoderClassRE = regexp.MustCompile(`(?m)^test_\w+ \(tests\.test_(?:raw|samples|photos)\.(\w+)\.\w+\) \.\.\. (ok|skipped.*|FAIL|ERROR)$`)
	// The classes that must run here, and how many tests each has at least.
	realDecoderClasses = map[string]int{
		"SyntheticDNGTest": 5, "RealCR2Test": 3, "CrashTest": 1, "SamplesTest": 5,
		"RequestTest": 1, "MotoTest": 4, "RealCR2ThroughS3Test": 1,
	}
)

// Camera RAW thumbnails, the self-test's samples and the "s3" input, on
// real decoders: /usr/bin/python3 with Debian's Pillow, numpy, tifffile
// and boto3, LibRaw (libraw20, libraw-dev, libraw-bin), libheif's tools
// and the real Canon CR2 of rawtran-doc (.ci/run installs them), with S3
// on a moto_server of its own.
func TestAppRealDecoders(t *testing.T) {
	probe := exec.Command(realPillowPython, "-B", "-s", "-c",
		"import importlib.util, tests.realimaging as r\n"+
			"lacks = r.missing() + ([] if importlib.util.find_spec('boto3') else ['python module boto3'])\n"+
			"print('\\n'.join(lacks))")
	probe.Dir = "app"
	out, err := probe.Output()
	if err != nil {
		testenv.SkipOrFail(t, "%s cannot run the app's test helpers: %v\n%s", realPillowPython, err, stderrOf(err))
	}
	if lacks := strings.TrimSpace(string(out)); lacks != "" {
		testenv.SkipOrFail(t, "the real-decoder tests need (see .ci/run): %s", strings.ReplaceAll(lacks, "\n", ", "))
	}
	moto := testenv.StartMoto(t)

	args := append([]string{"-B", "-s", "-m", "unittest", "-v"}, realDecoderTests...)
	cmd := exec.Command(realPillowPython, args...)
	cmd.Dir = "app"
	cmd.Env = append(botocoreEnv(moto.Env()), "GALERLY_TEST_S3_ENDPOINT="+moto.Endpoint, "PYTHONDONTWRITEBYTECODE=1",
		"PYTHONPATH=", "LOG_LEVEL=", "AWS_LAMBDA_LOG_LEVEL=", "PHOTOS_BUCKET=", "AWS_LAMBDA_INITIALIZATION_TYPE=")
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -m unittest %s: %v\n%s", realPillowPython, strings.Join(realDecoderTests, " "), err, out)
	}
	passed := map[string]int{}
	for _, m := range realDecoderClassRE.FindAllSubmatch(out, -1) {
		if string(m[2]) != "ok" {
			t.Errorf("%s: %s", m[1], m[2])
			continue
		}
		passed[string(m[1])]++
	}
	for class, least := range realDecoderClasses {
		if passed[class] < least {
			t.Errorf("%s: %d tests passed, want at least %d (none skipped):\n%s", class, passed[class], least, out)
		}
	}
}

// botocoreEnv is this process's environment without any AWS_ variable,
// plus the set ones of awsEnv: an older botocore (Debian's 1.29) takes an
// empty AWS_PROFILE for a profile named "" instead of none.
func botocoreEnv(awsEnv []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	for _, kv := range awsEnv {
		if !strings.HasSuffix(kv, "=") {
			env = append(env, kv)
		}
	}
	return env
}
