package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/build/verify"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// motoAccount is the account moto_server serves by default.
const motoAccount = "123456789012"

// lambdaFixture creates real roles, layer versions and functions in a
// moto_server through the Lambda and IAM APIs.
type lambdaFixture struct {
	t      *testing.T
	ctx    context.Context
	lambda *lambda.Client
	role   string
}

func newLambdaFixture(t *testing.T) *lambdaFixture {
	t.Helper()
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("galerly-api-test"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	return &lambdaFixture{t: t, ctx: ctx, lambda: awsconfig.NewLambda(cfg), role: aws.ToString(out.Role.Arn)}
}

// zipOf returns a zip holding one file.
func zipOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err == nil {
		_, err = w.Write([]byte(content))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// publishLayer publishes a version of layer name and returns its ARN and
// the size of its zip.
func (fx *lambdaFixture) publishLayer(name string, runtimes ...ltypes.Runtime) (string, int) {
	fx.t.Helper()
	content := zipOf(fx.t, "python/galerly_marker.py", "VERSION = '"+name+"'\n")
	out, err := fx.lambda.PublishLayerVersion(fx.ctx, &lambda.PublishLayerVersionInput{
		LayerName:               aws.String(name),
		Content:                 &ltypes.LayerVersionContentInput{ZipFile: content},
		CompatibleRuntimes:      runtimes,
		CompatibleArchitectures: []ltypes.Architecture{ltypes.ArchitectureX8664},
	})
	if err != nil {
		fx.t.Fatalf("publish layer %s: %v", name, err)
	}
	return aws.ToString(out.LayerVersionArn), len(content)
}

type fnSpec struct {
	name    string
	runtime ltypes.Runtime
	arch    ltypes.Architecture
	layers  []string
	alias   bool // publish version 1 and point the alias live at it
}

// handlerSource answers the self-test as app/handlers/selftest.py does, for
// an emulator that can run it.
const handlerSource = `import platform
def handler(event, context):
    return {"ok": True, "packages": {}, "raw": True, "heic": True, "python": platform.python_version()}
`

// createFunction creates a function and returns the size of its zip.
func (fx *lambdaFixture) createFunction(s fnSpec) int {
	fx.t.Helper()
	if s.arch == "" {
		s.arch = ltypes.ArchitectureX8664
	}
	code := zipOf(fx.t, "api.py", handlerSource)
	_, err := fx.lambda.CreateFunction(fx.ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String(s.name),
		Runtime:       s.runtime,
		Architectures: []ltypes.Architecture{s.arch},
		Role:          aws.String(fx.role),
		Handler:       aws.String("api.handler"),
		Code:          &ltypes.FunctionCode{ZipFile: code},
		Layers:        s.layers,
		Publish:       s.alias,
	})
	if err != nil {
		fx.t.Fatalf("create function %s: %v", s.name, err)
	}
	if s.alias {
		fx.alias(s.name, "1")
	}
	return len(code)
}

func (fx *lambdaFixture) alias(function, version string) {
	fx.t.Helper()
	if _, err := fx.lambda.CreateAlias(fx.ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String(function), Name: aws.String("live"), FunctionVersion: aws.String(version),
	}); err != nil {
		fx.t.Fatalf("create alias live of %s: %v", function, err)
	}
}

// verify against a real Lambda API (moto_server): functions created with
// the expected layer, none, an older one, an incompatible runtime or
// architecture, one a deploy left behind its alias, and layers with a
// version newer than the stack's or deleted.
func TestVerifyAgainstMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	m.Setenv(t)
	fx := newLambdaFixture(t)

	const layer = "galerly-image-processing"
	prod := []ltypes.Runtime{ltypes.RuntimePython311, ltypes.RuntimePython312}
	v1, _ := fx.publishLayer(layer, prod...)
	v2, v2size := fx.publishLayer(layer, prod...)
	goodSize := fx.createFunction(fnSpec{name: "api-good", runtime: ltypes.RuntimePython311, layers: []string{v2}, alias: true})
	fx.createFunction(fnSpec{name: "api-bare", runtime: ltypes.RuntimePython311, alias: true})
	fx.createFunction(fnSpec{name: "api-old", runtime: ltypes.RuntimePython311, layers: []string{v1}, alias: true})
	fx.createFunction(fnSpec{name: "api-py39", runtime: ltypes.RuntimePython39, layers: []string{v2}, alias: true})
	fx.createFunction(fnSpec{name: "api-arm", runtime: ltypes.RuntimePython311, arch: ltypes.ArchitectureArm64, layers: []string{v2}, alias: true})
	fx.createFunction(fnSpec{name: "api-unpublished", runtime: ltypes.RuntimePython311, layers: []string{v2}})

	// A deploy whose smoke test failed: $LATEST and version 2 use the new
	// layer, the alias still points at version 1 with the old one.
	fx.createFunction(fnSpec{name: "api-behind", runtime: ltypes.RuntimePython311, layers: []string{v1}, alias: true})
	if _, err := fx.lambda.UpdateFunctionConfiguration(fx.ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("api-behind"), Layers: []string{v2},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.lambda.PublishVersion(fx.ctx, &lambda.PublishVersionInput{FunctionName: aws.String("api-behind")}); err != nil {
		t.Fatal(err)
	}

	// A version published outside the stack, newer than the one deployed.
	x1, _ := fx.publishLayer("galerly-extra", prod...)
	fx.publishLayer("galerly-extra", prod...)
	fx.createFunction(fnSpec{name: "api-extra", runtime: ltypes.RuntimePython311, layers: []string{x1}, alias: true})

	// The deployed version deleted while the function still uses it.
	d1, _ := fx.publishLayer("galerly-deleted", prod...)
	fx.createFunction(fnSpec{name: "api-deleted", runtime: ltypes.RuntimePython311, layers: []string{d1}, alias: true})
	if _, err := fx.lambda.DeleteLayerVersion(fx.ctx, &lambda.DeleteLayerVersionInput{
		LayerName: aws.String("galerly-deleted"), VersionNumber: aws.Int64(1),
	}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		args  []string
		code  int
		lines []string // substrings of stdout lines
		err   string   // substring of stderr
	}{
		{"right layer", []string{"--function", "api-good", "--expect-layer", v2}, 0, []string{
			"ok   state: api-good:live is version 1, Active",
			"ok   layers: " + v2,
			"ok   expected layer: version 2 of " + layer + " is attached",
			"ok   newest layer: the function uses version 2, the newest of " + layer,
			"ok   runtime: python3.11 is one of layer version 2's compatible runtimes (python3.11, python3.12)",
			"ok   architecture: x86_64 is one of layer version 2's compatible architectures (x86_64)",
			fmt.Sprintf("ok   code size: %s bytes zipped (function %s + 1 layer %s); Lambda's 262,144,000-byte limit is on the unzipped size",
				verify.Bytes(int64(goodSize+v2size)), verify.Bytes(int64(goodSize)), verify.Bytes(int64(v2size))),
		}, ""},
		{"no layer", []string{"--function", "api-bare", "--expect-layer", v2}, 1, []string{
			"FAIL layers: api-bare:live has no layers attached; the stack attaches " + v2 + ": run pulumi up",
			"FAIL expected layer: api-bare:live uses no version of layer " + layer + ", stack output is version 2: run pulumi up",
		}, ""},
		{"older version while a newer exists", []string{"--function", "api-old", "--expect-layer", v2}, 1, []string{
			"FAIL expected layer: function points at layer version 1, stack output is version 2: run pulumi up",
			"FAIL newest layer: " + layer + " has version 2, the function uses 1: run pulumi up",
		}, ""},
		{"incompatible runtime", []string{"--function", "api-py39", "--expect-layer", v2}, 1, []string{
			"ok   expected layer:",
			"FAIL runtime: the function runs python3.9, layer version 2 is built for python3.11, python3.12: set galerly-lambda:functionRuntime",
		}, ""},
		{"incompatible architecture", []string{"--function", "api-arm", "--expect-layer", v2}, 1, []string{
			"FAIL architecture: the function runs on arm64, layer version 2 is built for x86_64",
		}, ""},
		{"alias left behind by a failed smoke test", []string{"--function", "api-behind", "--expect-layer", v2}, 1, []string{
			"FAIL expected layer: function points at layer version 1, stack output is version 2: run pulumi up (if it ran and live did not move, the new version failed its smoke test",
		}, ""},
		{"the version the failed deploy published", []string{"--function", "api-behind", "--qualifier", "2", "--expect-layer", v2}, 0, []string{
			"ok   state: api-behind:2, Active",
			"ok   expected layer: version 2",
		}, ""},
		{"$LATEST", []string{"--function", "api-behind", "--qualifier", "$LATEST", "--expect-layer", v2}, 0, []string{
			"ok   state: api-behind:$LATEST, Active",
		}, ""},
		{"newer version published outside the stack", []string{"--function", "api-extra", "--expect-layer", x1}, 1, []string{
			"ok   expected layer: version 1 of galerly-extra is attached",
			"FAIL newest layer: galerly-extra has version 2, newer than the stack output (1) and unused by the function: it was published outside the stack",
			"aws lambda delete-layer-version --layer-name galerly-extra --version-number 2",
		}, ""},
		{"deployed version deleted", []string{"--function", "api-deleted", "--expect-layer", d1}, 1, []string{
			"FAIL expected layer: " + d1 + " is attached but was deleted",
			"skip runtime: python3.11: version 1 of galerly-deleted does not exist to compare with",
		}, ""},
		{"unknown function", []string{"--function", "api-missing", "--expect-layer", v2}, 1, nil,
			"no function api-missing in us-east-1"},
		{"no alias", []string{"--function", "api-unpublished", "--expect-layer", v2}, 1, nil,
			`function api-unpublished has no alias or version "live" in us-east-1: pass --qualifier '$LATEST'`},
		{"by ARN", []string{"--function", "arn:aws:lambda:us-east-1:" + motoAccount + ":function:api-good", "--expect-layer", v2}, 0, []string{
			"ok   expected layer: version 2",
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := lambdapack(append([]string{"verify"}, c.args...)...)
			t.Logf("lambdapack verify %s: exit %d\n%s%s", strings.Join(c.args, " "), r.code, r.stdout, r.stderr)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, c.code, r.stdout, r.stderr)
			}
			for _, want := range c.lines {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			if c.err != "" && !strings.Contains(r.stderr, c.err) {
				t.Errorf("stderr lacks %q:\n%s", c.err, r.stderr)
			}
			if c.err == "" && r.stderr != "" {
				t.Errorf("unexpected stderr:\n%s", r.stderr)
			}
			if c.code == 1 && c.err == "" {
				checkFailLinesHaveFix(t, r.stdout)
			}
		})
	}

	// The region comes from the layer ARN: a function uses only layers of
	// its own region, so a shell set to another region still finds it.
	t.Run("region from the layer ARN", func(t *testing.T) {
		t.Setenv("AWS_REGION", "eu-west-1")
		t.Setenv("AWS_DEFAULT_REGION", "eu-west-1")
		r := lambdapack("verify", "--function", "api-good", "--expect-layer", v2)
		if r.code != 0 {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	// moto runs a function's code in docker; with no docker daemon it
	// answers the Invoke with a FunctionError and its docker error as the
	// payload, which is what a crashed function looks like to verify.
	t.Run("invoke, function error", func(t *testing.T) {
		r := lambdapack("verify", "--function", "api-good", "--expect-layer", v2, "--invoke")
		if strings.Contains(r.stdout, "ok   self-test:") {
			t.Skip("this moto_server ran the function (docker is available); the FunctionError path needs one that cannot")
		}
		want := "FAIL self-test: the function raised (Handled error): error running docker"
		if r.code != 1 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "read the logs: aws logs tail /aws/lambda/api-good --since 15m") {
			t.Errorf("exit %d, want 1 with %q:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		r := lambdapack("verify", "--function", "api-good", "--expect-layer", v2)
		if r.code != 1 || !strings.Contains(r.stderr, "no AWS credentials") || r.stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 naming the missing credentials", r.code, r.stdout, r.stderr)
		}
	})

	// When the qualifier is missing, verify looks again without it to tell
	// a missing alias from a missing function; a failure of that second
	// look (here: access denied) is reported as what it is, not as "no
	// function".
	t.Run("second look fails", func(t *testing.T) {
		rec := testenv.RecordRequests(t, m.Endpoint)
		rec.Intercept(func(r *http.Request) int {
			if strings.HasSuffix(r.URL.Path, "/functions/api-unpublished/configuration") && r.URL.Query().Get("Qualifier") == "" {
				return http.StatusForbidden
			}
			return 0
		})
		t.Setenv("AWS_ENDPOINT_URL", rec.Endpoint)
		r := lambdapack("verify", "--function", "api-unpublished", "--expect-layer", v2)
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "reading function api-unpublished (its live was not found)") ||
			strings.Contains(r.stderr, "no function") || strings.Contains(r.stderr, "has no alias") {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 reporting the failed second look", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("endpoint not answering", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL", closedEndpoint(t))
		r := lambdapack("verify", "--function", "api-good", "--expect-layer", v2)
		if r.code != 1 || !strings.Contains(r.stderr, "reading function api-good: the Lambda endpoint http://127.0.0.1:") ||
			!strings.Contains(r.stderr, "did not answer") || !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("exit %d, stderr %q; want exit 1 naming the endpoint that did not answer", r.code, r.stderr)
		}
	})
}

// checkFailLinesHaveFix checks that every FAIL line says what to do: a
// finding and a fix, separated by ": ".
func checkFailLinesHaveFix(t *testing.T, stdout string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if strings.HasPrefix(line, "FAIL ") && strings.Count(line, ": ") < 2 {
			t.Errorf("FAIL line without a fix: %q", line)
		}
	}
}

// closedEndpoint returns the URL of a 127.0.0.1 port nothing listens on.
func closedEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// moto's docker-less Lambda answers an Invoke with results queued through
// its API instead of running code. The answers here are the test's, so this
// proves the wiring of --invoke (the request reaches the function at the
// qualifier, the payload comes back through the SDK to the verdict), not
// what a real function returns.
func TestVerifyInvokeAgainstMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	rec := testenv.RecordRequests(t, m.Endpoint)
	testenv.SetenvAll(t, testenv.EndpointEnv(rec.Endpoint))
	fx := newLambdaFixture(t)
	// moto 5's docker-less backend keeps its own layers but checks a new
	// function's layers against the docker backend's, so the layer is
	// published in both, as the same version 1.
	v1, _ := fx.publishLayer("galerly-image-processing", ltypes.RuntimePython311, ltypes.RuntimePython312)
	motoAPI(t, m.Endpoint+"/moto-api/config", `{"lambda": {"use_docker": false}}`)
	if again, _ := fx.publishLayer("galerly-image-processing", ltypes.RuntimePython311, ltypes.RuntimePython312); again != v1 {
		t.Fatalf("layer published again as %s, want %s", again, v1)
	}
	fx.createFunction(fnSpec{name: "api", runtime: ltypes.RuntimePython311, layers: []string{v1}, alias: true})

	const decoded = `"decode": {"raw": {"ok": true, "ms": 12.34, "via": "preview"}, "heic": {"ok": true, "ms": 3.05, "via": "pillow_heif"}, "jpeg": {"ok": true, "ms": 0.8, "via": "PIL"}}`
	cases := []struct {
		name   string
		answer string
		code   int
		lines  []string
	}{
		{"ok", `{"ok": true, "packages": {"PIL": "11.0.0", "numpy": "2.1.3", "pillow_heif": "0.20.0", "rawpy": "0.24.0"}, "raw": true, "heic": true, "python": "3.11.9"}`,
			0, []string{"ok   self-test: python 3.11.9 imports PIL 11.0.0, numpy 2.1.3, pillow_heif 0.20.0, rawpy 0.24.0\n"}},
		{"a package fails", `{"ok": false, "errors": {"rawpy": "ImportError: libraw_r.so.23: cannot open shared object file: No such file or directory"}, "packages": {"PIL": "11.0.0"}, "raw": false, "heic": true, "python": "3.11.9"}`,
			1, []string{"FAIL self-test: on python 3.11.9: rawpy: ImportError: libraw_r.so.23: cannot open shared object file"}},
		{"ok, with the samples decoded and a snapshot primed", `{"ok": true, "packages": {"PIL": "11.0.0", "numpy": "2.1.3", "pillow_heif": "0.20.0", "rawpy": "0.27.0"}, "raw": true, "heic": true, "python": "3.12.1", ` +
			decoded + `, "initializationType": "snap-start", "primed": ["numpy", "PIL", "pillow_heif", "rawpy"]}`,
			0, []string{
				"ok   self-test: python 3.12.1 imports PIL 11.0.0, numpy 2.1.3, pillow_heif 0.20.0, rawpy 0.27.0\n" +
					"ok   RAW: decoded in 12.3 ms via preview\n" +
					"ok   HEIC: decoded in 3.0 ms via pillow_heif\n" +
					"ok   JPEG: decoded in 0.8 ms via PIL\n" +
					"ok   init: snap-start; primed in init: numpy, PIL, pillow_heif, rawpy\n"}},
		{"the RAW sample does not decode", `{"ok": false, "packages": {"PIL": "11.0.0", "numpy": "2.1.3", "pillow_heif": "0.20.0", "rawpy": "0.27.0"}, "raw": false, "heic": true, "python": "3.12.1", ` +
			`"decode": {"raw": {"ok": false, "ms": null, "via": null, "error": "LibRawIOError: b'Input/output error'"}, "heic": {"ok": true, "ms": 3.05, "via": "pillow_heif"}, "jpeg": {"ok": true, "ms": 0.8, "via": "PIL"}}, ` +
			`"initializationType": "on-demand", "primed": []}`,
			1, []string{
				"FAIL self-test: on python 3.12.1: RAW decoding (the sample did not decode: LibRawIOError: b'Input/output error') failed: ",
				"FAIL RAW: FAILED: LibRawIOError: b'Input/output error': rawpy imports but its LibRaw cannot decode the app's DNG sample",
				"ok   HEIC: decoded in 3.0 ms via pillow_heif\n",
				"ok   init: on-demand; nothing primed in init\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			motoAPI(t, m.Endpoint+"/moto-api/static/lambda-simple/response",
				fmt.Sprintf(`{"results": [%q], "region": %q}`, c.answer, testenv.MotoRegion))
			rec.Reset()
			r := lambdapack("verify", "--function", "api", "--expect-layer", v1, "--invoke")
			if r.code != c.code {
				t.Errorf("exit %d, want %d:\n%s%s", r.code, c.code, r.stdout, r.stderr)
			}
			for _, line := range c.lines {
				if !strings.Contains(r.stdout, line) {
					t.Errorf("stdout lacks %q:\n%s%s", line, r.stdout, r.stderr)
				}
			}
			if c.code == 1 {
				checkFailLinesHaveFix(t, r.stdout)
			}
			var invoked []string
			for _, q := range rec.Requests() {
				if strings.HasSuffix(q.Path, "/invocations") {
					invoked = append(invoked, q.Path+"?"+q.RawQuery)
				}
			}
			if len(invoked) != 1 || invoked[0] != "/2015-03-31/functions/api/invocations?Qualifier=live" {
				t.Errorf("invocations %q, want one of api at Qualifier=live", invoked)
			}
		})
	}
}

// motoAPI posts a JSON body to one of moto's own endpoints.
func motoAPI(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}
