package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/build/upload"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// uploaded is the JSON `layer --upload` and `function --upload` print.
type uploaded struct {
	build.Result
	S3 *upload.Object `json:"s3"`
}

func decodeUploaded(t *testing.T, r result) uploaded {
	t.Helper()
	var u uploaded
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
		t.Fatalf("printed no JSON object: %v\n%s", err, r.stdout)
	}
	return u
}

// s3Moto is a moto_server with a bucket, the environment pointed at a
// recording proxy in front of it (what the CLI uses), and a client that
// goes to the server directly (for checks).
type s3Moto struct {
	m      *testenv.Moto
	rec    *testenv.Recorder
	direct *s3.Client
	bucket string
}

func newS3Moto(t *testing.T) *s3Moto {
	t.Helper()
	m := testenv.StartMoto(t)
	m.Setenv(t)
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := &s3Moto{m: m, direct: awsconfig.NewS3(cfg), bucket: "galerly-artifacts"}
	if _, err := s.direct.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		t.Fatal(err)
	}
	s.rec = testenv.RecordRequests(t, m.Endpoint)
	testenv.SetenvAll(t, testenv.EndpointEnv(s.rec.Endpoint))
	return s
}

func (s *s3Moto) object(t *testing.T, key string) []byte {
	t.Helper()
	out, err := s.direct.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", s.bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// puts lists the paths the CLI sent PUT or POST requests to.
func (s *s3Moto) puts() []string {
	var out []string
	for _, r := range s.rec.Requests() {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			out = append(out, r.Path)
		}
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The layer is built and stored under its key; a second run for the same
// lock (a fresh CI runner, or a rollback) finds it and its report in S3
// and builds, downloads and sends nothing: it runs with no wheels and no
// cache at all and still prints the same report.
func TestLayerUploadAndInstantReuse(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	layerKey := lambdapack("key", "--lock", w.lock, "--runtime", "python3.11", "--runtime", "python3.12", "--arch", arch(t))
	if layerKey.code != 0 {
		t.Fatalf("key: %s", layerKey.stderr)
	}
	key := "layers/galerly-image-processing/" + strings.TrimSpace(layerKey.stdout) + ".zip"
	uri := "s3://" + s.bucket + "/" + key
	out := filepath.Join(t.TempDir(), "layer.zip")
	args := func(out, findLinks, cache string) []string {
		return []string{"layer", "--lock", w.lock, "--runtime", "python3.11", "--runtime", "python3.12", "--arch", arch(t),
			"--no-index", "--find-links", findLinks, "--cache", cache, "--out", out, "--upload", uri}
	}

	r := lambdapack(args(out, w.dir, t.TempDir())...)
	if r.code != 0 {
		t.Fatalf("layer --upload failed (%d): %s", r.code, r.stderr)
	}
	first := decodeUploaded(t, r)
	if first.S3 == nil || first.S3.Bucket != s.bucket || first.S3.Key != key || first.S3.Reused || first.S3.BuildSkipped {
		t.Fatalf("s3 = %+v, want a new object at %s", first.S3, uri)
	}
	if strings.Contains(r.stderr, "uploading") {
		t.Errorf("a progress line was written to a pipe: %q", r.stderr)
	}
	zipBytes := readFile(t, out)
	if got := s.object(t, key); !bytes.Equal(got, zipBytes) {
		t.Fatalf("stored object (%d bytes) is not the built zip (%d bytes)", len(got), len(zipBytes))
	}
	if sha256hex(zipBytes) != first.SHA256 {
		t.Errorf("report sha256 %s, zip's %s", first.SHA256, sha256hex(zipBytes))
	}
	var stored build.Result
	if err := json.Unmarshal(s.object(t, key+upload.ReportSuffix), &stored); err != nil || stored.Key != first.Key || stored.SHA256 != first.SHA256 {
		t.Errorf("stored report %+v (%v), want the build's", stored, err)
	}

	// Nothing to build from: an empty find-links folder, an empty cache.
	s.rec.Reset()
	out2 := filepath.Join(t.TempDir(), "layer.zip")
	r = lambdapack(args(out2, t.TempDir(), t.TempDir())...)
	if r.code != 0 {
		t.Fatalf("second layer --upload failed (%d): %s", r.code, r.stderr)
	}
	second := decodeUploaded(t, r)
	if second.S3 == nil || !second.S3.Reused || !second.S3.BuildSkipped {
		t.Errorf("second s3 = %+v, want reused with the build skipped", second.S3)
	}
	firstJSON, _ := json.Marshal(first.Result)
	secondJSON, _ := json.Marshal(second.Result)
	if !bytes.Equal(firstJSON, secondJSON) {
		t.Errorf("the stored report differs from the build's:\n%s\n%s", secondJSON, firstJSON)
	}
	if p := s.puts(); len(p) != 0 {
		t.Errorf("the second run wrote %v", p)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Errorf("the second run wrote %s (%v)", out2, err)
	}
	if !strings.Contains(r.stderr, "nothing built") {
		t.Errorf("stderr does not say nothing was built: %q", r.stderr)
	}
}

// An object already under the key with the same bytes but no report (put
// there by an older lambdapack, or by hand) is reused after a build, and
// the zip itself is not sent again.
func TestLayerUploadReusesAnObjectWithoutReport(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	out := filepath.Join(t.TempDir(), "layer.zip")
	res, r := buildLayer(t, "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t),
		"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", out)
	if r.code != 0 {
		t.Fatalf("layer failed: %s", r.stderr)
	}
	key := "layers/x/" + res.Key + ".zip"
	if _, err := s.direct.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(readFile(t, out)),
	}); err != nil {
		t.Fatal(err)
	}
	s.rec.Reset()
	r = lambdapack("layer", "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t),
		"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", filepath.Join(t.TempDir(), "l.zip"),
		"--upload", "s3://"+s.bucket+"/"+key)
	if r.code != 0 {
		t.Fatalf("layer --upload failed (%d): %s", r.code, r.stderr)
	}
	if u := decodeUploaded(t, r); u.S3 == nil || !u.S3.Reused || u.S3.BuildSkipped {
		t.Errorf("s3 = %+v, want reused after a build", u.S3)
	}
	for _, p := range s.puts() {
		if strings.HasSuffix(p, ".zip") {
			t.Errorf("the zip was sent again: PUT %s", p)
		}
	}
}

// A different lock uploaded to a key that already holds another layer is
// refused, naming both sha256s, and the stored object is unchanged.
func TestLayerUploadConflict(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	uri := "s3://" + s.bucket + "/layers/x/fixed-name.zip"
	base := []string{"layer", "--runtime", "python3.11", "--arch", arch(t), "--no-index", "--find-links", w.dir, "--cache", t.TempDir()}
	r := lambdapack(append(base, "--lock", w.lock, "--out", filepath.Join(t.TempDir(), "a.zip"), "--upload", uri)...)
	if r.code != 0 {
		t.Fatalf("first upload failed: %s", r.stderr)
	}
	first := decodeUploaded(t, r)
	before := s.object(t, "layers/x/fixed-name.zip")

	smaller := filepath.Join(t.TempDir(), "requirements.txt")
	w.writeLock(t, smaller, func(s string) string {
		i := strings.Index(s, "PurePkg==")
		j := strings.Index(s, "tinyext==")
		return s[:i] + s[j:]
	})
	r = lambdapack(append(base, "--lock", smaller, "--out", filepath.Join(t.TempDir(), "b.zip"), "--upload", uri)...)
	if r.code != exitFail {
		t.Fatalf("conflicting upload: exit %d, want %d\n%s", r.code, exitFail, r.stderr)
	}
	for _, want := range []string{first.SHA256, "never overwrites", uri} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("a refused upload printed a report: %s", r.stdout)
	}
	if !bytes.Equal(s.object(t, "layers/x/fixed-name.zip"), before) {
		t.Error("the stored layer changed")
	}
}

// A bad --upload is a usage error before anything is built.
func TestUploadUsage(t *testing.T) {
	w := newWheelhouse(t)
	for _, uri := range []string{"https://bucket/key.zip", "s3://bucket", "s3://bucket/", "s3://Bad_Bucket/k.zip", "s3://bucket/a//b.zip"} {
		out := filepath.Join(t.TempDir(), "layer.zip")
		r := lambdapack("layer", "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t),
			"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", out, "--upload", uri)
		if r.code != exitUsage {
			t.Errorf("--upload %s: exit %d, want %d\n%s", uri, r.code, exitUsage, r.stderr)
		}
		if !strings.Contains(r.stderr, "-upload") {
			t.Errorf("--upload %s: stderr does not name the flag: %s", uri, r.stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("--upload %s: the layer was built anyway", uri)
		}
	}
}

// Every failure to reach or use S3 is exit 1 with a message that says what
// to fix, and those found before the build (credentials, region, the
// bucket, the endpoint) leave no zip behind.
func TestUploadFailuresBeforeBuild(t *testing.T) {
	w := newWheelhouse(t)
	m := testenv.StartMoto(t)
	closed := closedEndpoint(t)
	cases := []struct {
		name string
		env  []string
		uri  string
		want []string
	}{
		{"no credentials", append(testenv.EndpointEnv(m.Endpoint), "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="),
			"s3://galerly-artifacts/k.zip", []string{"no AWS credentials", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"}},
		{"no region", append(testenv.EndpointEnv(m.Endpoint), "AWS_REGION=", "AWS_DEFAULT_REGION="),
			"s3://galerly-artifacts/k.zip", []string{"no AWS region", "AWS_REGION"}},
		{"no such bucket", testenv.EndpointEnv(m.Endpoint),
			"s3://no-such-bucket/k.zip", []string{`"no-such-bucket" does not exist`, m.Endpoint}},
		{"endpoint does not answer", testenv.EndpointEnv(closed),
			"s3://galerly-artifacts/k.zip", []string{closed, "does not answer", "connection refused", "AWS_ENDPOINT_URL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			testenv.SetenvAll(t, c.env)
			out := filepath.Join(t.TempDir(), "layer.zip")
			start := time.Now()
			r := lambdapack("layer", "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t),
				"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", out, "--upload", c.uri)
			t.Logf("%s: exit %d after %s: %s", c.name, r.code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(r.stderr))
			if r.code != exitFail {
				t.Errorf("exit %d, want %d", r.code, exitFail)
			}
			for _, want := range c.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not contain %q", want)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a zip was built although the upload could not happen")
			}
		})
	}
}

// The function package goes up the same way, and a second run for the
// same source and lock builds nothing.
func TestFunctionUploadAndReuse(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	src := filepath.Join(t.TempDir(), "app")
	writeSource(t, src, 0o022, time.Now())
	uri := "s3://" + s.bucket + "/functions/galerly-api/code.zip"
	args := func(out, findLinks string) []string {
		return []string{"function", "--src", src, "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t),
			"--no-index", "--find-links", findLinks, "--cache", t.TempDir(), "--out", out, "--upload", uri}
	}
	out := filepath.Join(t.TempDir(), "function.zip")
	r := lambdapack(args(out, w.dir)...)
	if r.code != 0 {
		t.Fatalf("function --upload failed (%d): %s", r.code, r.stderr)
	}
	first := decodeUploaded(t, r)
	if first.S3 == nil || first.S3.Reused {
		t.Fatalf("s3 = %+v, want a new object", first.S3)
	}
	if !bytes.Equal(s.object(t, "functions/galerly-api/code.zip"), readFile(t, out)) {
		t.Fatal("the stored function package is not the built zip")
	}
	s.rec.Reset()
	r = lambdapack(args(filepath.Join(t.TempDir(), "function.zip"), t.TempDir())...)
	if r.code != 0 {
		t.Fatalf("second function --upload failed (%d): %s", r.code, r.stderr)
	}
	if u := decodeUploaded(t, r); u.S3 == nil || !u.S3.Reused || !u.S3.BuildSkipped || u.SHA256 != first.SHA256 {
		t.Errorf("second run = %+v, want the stored package reused without a build", u)
	}
	if p := s.puts(); len(p) != 0 {
		t.Errorf("the second run wrote %v", p)
	}

	// A changed source file changes the code key: the stored package is
	// not taken for it, the new build differs, and the key is refused.
	if err := os.WriteFile(filepath.Join(src, "utils", "resize.py"), []byte("SIZES = (512,)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = lambdapack(args(filepath.Join(t.TempDir(), "function.zip"), w.dir)...)
	if r.code != exitFail || !strings.Contains(r.stderr, "never overwrites") {
		t.Errorf("upload of changed code to the same key: exit %d, want %d with a conflict\n%s", r.code, exitFail, r.stderr)
	}
}

// Skipping the build skips none of what a build would say first: secrets
// in the source folder are still named, and an --out the zip could not be
// written to is refused, not passed over because nothing was written.
func TestFunctionReuseStillWarnsAndChecksOut(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	src := filepath.Join(t.TempDir(), "app")
	writeSource(t, src, 0o022, time.Now())
	if err := os.WriteFile(filepath.Join(src, ".env"), []byte("STRIPE_SECRET_KEY=sk_test_x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := "s3://" + s.bucket + "/functions/galerly-api/code.zip"
	args := func(out string) []string {
		return []string{"function", "--src", src, "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t),
			"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", out, "--upload", uri}
	}
	if r := lambdapack(args(filepath.Join(t.TempDir(), "function.zip"))...); r.code != 0 {
		t.Fatalf("function --upload failed (%d): %s", r.code, r.stderr)
	}

	r := lambdapack(args(filepath.Join(t.TempDir(), "function.zip"))...)
	if u := decodeUploaded(t, r); r.code != 0 || u.S3 == nil || !u.S3.BuildSkipped {
		t.Fatalf("second run (%d) = %+v, want the build skipped\n%s", r.code, u, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning:") || !strings.Contains(r.stderr, ".env") {
		t.Errorf("a skipped build did not name the .env file:\n%s", r.stderr)
	}

	missing := filepath.Join(t.TempDir(), "no-such-folder", "function.zip")
	r = lambdapack(args(missing)...)
	if r.code != exitFail || r.stdout != "" || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("--out in a missing folder with a stored package: exit %d, stdout %q; want 1 naming the folder\n%s", r.code, r.stdout, r.stderr)
	}
}

// The reuse path never prints a stored report it cannot stand behind: one
// that does not fit this run's limits (a layer grew since) is refused by
// the build like any package over the limit, and one that does not
// describe the stored zip is ignored and the package is built and
// compared instead.
func TestFunctionUploadDoesNotReuseAWrongReport(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	src := filepath.Join(t.TempDir(), "app")
	writeSource(t, src, 0o022, time.Now())
	const key = "functions/galerly-api/code.zip"
	uri := "s3://" + s.bucket + "/" + key
	args := func(extra ...string) []string {
		return append([]string{"function", "--src", src, "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t),
			"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", filepath.Join(t.TempDir(), "function.zip"), "--upload", uri}, extra...)
	}
	r := lambdapack(args()...)
	if r.code != 0 {
		t.Fatalf("function --upload failed (%d): %s", r.code, r.stderr)
	}
	first := decodeUploaded(t, r)

	t.Run("over the limit with this run's layers", func(t *testing.T) {
		layer := strconv.FormatInt(build.MaxUnzipped-first.UnzippedBytes+1, 10)
		r := lambdapack(args("--with-layer-unzipped", layer)...)
		if r.code != exitFail || r.stdout != "" {
			t.Fatalf("exit %d, stdout %q; want 1 and no report\n%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"not using the report stored", "over Lambda's limit", layer} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
	})

	t.Run("a report that does not describe the zip", func(t *testing.T) {
		// The same zip and build key, but its report (and the metadata
		// that ties them) claims other bytes: written by hand, as a
		// tampered or half-migrated bucket would hold.
		const forgedKey = "functions/galerly-api/forged.zip"
		forged := first.Result
		forged.SHA256 = strings.Repeat("0", 64)
		report, err := json.Marshal(forged)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := s.direct.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(forgedKey + upload.ReportSuffix), Body: bytes.NewReader(report),
		}); err != nil {
			t.Fatal(err)
		}
		zipBytes := s.object(t, key)
		if _, err := s.direct.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(forgedKey), Body: bytes.NewReader(zipBytes),
			Metadata: map[string]string{
				upload.MetaSHA256:       first.SHA256,
				upload.MetaBuildKey:     first.Key,
				upload.MetaReportSHA256: sha256hex(report),
			},
		}); err != nil {
			t.Fatal(err)
		}
		r := lambdapack(append(args()[:len(args())-1], "s3://"+s.bucket+"/"+forgedKey)...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		u := decodeUploaded(t, r)
		if u.SHA256 != first.SHA256 || u.S3 == nil || !u.S3.Reused || u.S3.BuildSkipped {
			t.Errorf("report %+v (s3 %+v); want the built package's, reused after a build", u.Result, u.S3)
		}
		if !strings.Contains(r.stderr, "not reusing") || !strings.Contains(r.stderr, "has sha256 "+first.SHA256) ||
			!strings.Contains(r.stderr, "not "+forged.SHA256+" as its report says") {
			t.Errorf("stderr does not say why the stored report was not used:\n%s", r.stderr)
		}
	})
}
