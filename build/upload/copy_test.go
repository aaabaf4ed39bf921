package upload

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/galerly/galerly-lambda/build/awsconfig"
)

// awayRegion is the second region of the copy tests.
const awayRegion = "eu-west-1"

// regionClient is a client of region through the recorder, as a copy
// step in that region has.
func (s *motoS3) regionClient(t *testing.T, region string) *s3.Client {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Region = region
	return awsconfig.NewS3(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(s.rec.Endpoint) })
}

// regionBucket creates a fresh bucket in region.
func (s *motoS3) regionBucket(t *testing.T, region string) string {
	t.Helper()
	name := s.bucket(t) + "-" + region
	_, err := s.direct.CreateBucket(context.Background(), &s3.CreateBucketInput{
		Bucket:                    aws.String(name),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// The copy tests share one server; each uses its own buckets, one in the
// home region (us-east-1, where the build uploads) and one in another.
func TestCopyAgainstMoto(t *testing.T) {
	s := startS3(t)
	t.Run("copied inside S3, then reused", func(t *testing.T) { testCopyThenReuse(t, s) })
	t.Run("another object at the destination", func(t *testing.T) { testCopyConflict(t, s) })
	t.Run("no artifact at the source", func(t *testing.T) { testCopyNoSource(t, s) })
}

// storedArtifact uploads an artifact built from buildKey to a new home bucket
// and returns where, its bytes and report.
func (s *motoS3) storedArtifact(t *testing.T, buildKey string, n int) (Location, []byte, []byte) {
	t.Helper()
	loc := Location{Bucket: s.bucket(t), Key: "layers/img/" + buildKey + ".zip"}
	path, data, sum := artifact(t, n)
	report := []byte(`{"key":"` + buildKey + `","sha256":"` + sum + `","zipBytes":` + strconv.Itoa(n) + `}` + "\n")
	if _, err := UploadArtifact(context.Background(), s.c, loc, Artifact{Path: path, SHA256: sum, BuildKey: buildKey, Report: report}, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	return loc, data, report
}

func testCopyThenReuse(t *testing.T, s *motoS3) {
	ctx := context.Background()
	buildKey := strings.Repeat("c", 64)
	src, data, report := s.storedArtifact(t, buildKey, 6000)
	dst := Location{Bucket: s.regionBucket(t, awayRegion), Key: src.Key}
	to := s.regionClient(t, awayRegion)

	s.rec.Reset()
	obj, err := Copy(ctx, s.c, to, src, dst, buildKey, nil)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if obj.Reused || obj.CopiedFrom != src.String() || obj.Bucket != dst.Bucket || obj.Key != dst.Key {
		t.Errorf("Copy = %+v, want a new object at %s copied from %s", obj, dst, src)
	}
	if got := s.get(t, dst); !bytes.Equal(got, data) {
		t.Errorf("the copy holds %d bytes that differ from the source's %d", len(got), len(data))
	}
	if got := s.get(t, ReportLocation(dst)); !bytes.Equal(got, report) {
		t.Errorf("the report beside the copy is %q, want the source's %q", got, report)
	}
	// The zip never left S3: no GET of it, and the one write of it is a
	// copy with no body, sent to the destination's region.
	var copies int
	for _, r := range s.rec.Requests() {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.Path, ".zip"):
			t.Errorf("the zip was read: %s %s", r.Method, r.Path)
		case r.Method == http.MethodPut && strings.HasSuffix(r.Path, dst.Key):
			copies++
			if r.Header.Get("X-Amz-Copy-Source") != src.Bucket+"/"+src.Key {
				t.Errorf("the zip was written by %s %s without x-amz-copy-source %s/%s (headers %v)", r.Method, r.Path, src.Bucket, src.Key, r.Header)
			}
			if !strings.Contains(r.Header.Get("Authorization"), "/"+awayRegion+"/s3/") {
				t.Errorf("the copy was signed for another region than %s: %s", awayRegion, r.Header.Get("Authorization"))
			}
			if r.Header.Get("If-None-Match") != "*" || r.Header.Get("X-Amz-Copy-Source-If-Match") == "" {
				t.Errorf("the copy is not conditional (If-None-Match %q, x-amz-copy-source-if-match %q)",
					r.Header.Get("If-None-Match"), r.Header.Get("X-Amz-Copy-Source-If-Match"))
			}
		}
	}
	if copies != 1 {
		t.Errorf("%d writes of the zip, want one copy: %v", copies, methods(s.rec.Requests()))
	}
	// The copy is an artifact in its own right: found there by its key,
	// so a build in that region would skip as one at home does.
	st, miss, err := Find(ctx, to, dst, buildKey)
	if err != nil || st == nil {
		t.Fatalf("Find at the destination = %+v, %+v, %v; want the copied artifact", st, miss, err)
	}
	if !bytes.Equal(st.Report, report) || st.SHA256 != sha(data) {
		t.Errorf("Find at the destination = report %q sha256 %s; want %q, %s", st.Report, st.SHA256, report, sha(data))
	}

	s.rec.Reset()
	again, err := Copy(ctx, s.c, to, src, dst, buildKey, nil)
	if err != nil || !again.Reused || again.CopiedFrom != "" {
		t.Fatalf("second Copy = %+v, %v; want the copy reused", again, err)
	}
	if s.writes() != 0 {
		t.Errorf("second Copy wrote: %v", methods(s.rec.Requests()))
	}
}

func testCopyConflict(t *testing.T, s *motoS3) {
	ctx := context.Background()
	buildKey := strings.Repeat("d", 64)
	src, _, _ := s.storedArtifact(t, buildKey, 3000)
	dst := Location{Bucket: s.regionBucket(t, awayRegion), Key: src.Key}
	to := s.regionClient(t, awayRegion)
	other := []byte(strings.Repeat("other bytes ", 250))
	if _, err := s.direct.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(dst.Bucket), Key: aws.String(dst.Key), Body: bytes.NewReader(other)}); err != nil {
		t.Fatal(err)
	}
	_, err := Copy(ctx, s.c, to, src, dst, buildKey, nil)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Copy over another object = %v, want ErrConflict", err)
	}
	if got := s.get(t, dst); !bytes.Equal(got, other) {
		t.Errorf("the object at the destination was overwritten")
	}
	if got := s.get(t, ReportLocation(dst)); got != nil {
		t.Errorf("a report was left beside an object it does not describe: %q", got)
	}
}

func testCopyNoSource(t *testing.T, s *motoS3) {
	ctx := context.Background()
	buildKey := strings.Repeat("e", 64)
	to := s.regionClient(t, awayRegion)
	away := s.regionBucket(t, awayRegion)
	missing := Location{Bucket: s.bucket(t), Key: "layers/img/" + buildKey + ".zip"}
	_, err := Copy(ctx, s.c, to, missing, Location{Bucket: away, Key: missing.Key}, buildKey, nil)
	if err == nil || !strings.Contains(err.Error(), "holds no artifact built from key "+buildKey) || !strings.Contains(err.Error(), "no object") {
		t.Errorf("Copy of a missing source = %v, want it named, with why", err)
	}

	// A source built from another key is not the artifact asked for.
	src, _, _ := s.storedArtifact(t, strings.Repeat("f", 64), 100)
	_, err = Copy(ctx, s.c, to, src, Location{Bucket: away, Key: src.Key}, buildKey, nil)
	if err == nil || !strings.Contains(err.Error(), "built from key "+strings.Repeat("f", 64)) {
		t.Errorf("Copy of another key's artifact = %v, want both keys named", err)
	}
	if got := s.get(t, Location{Bucket: away, Key: src.Key}); got != nil {
		t.Errorf("something was copied anyway")
	}

	if _, err := Copy(ctx, s.c, s.c, src, src, buildKey, nil); err == nil || !strings.Contains(err.Error(), "same object") {
		t.Errorf("Copy onto itself = %v, want it refused", err)
	}
}

// With moto checking IAM policies: a copy needs only reading the source
// and reading and writing the destination (the deploy role's S3 actions
// in docs/ci.md), and a user who may not write the destination is told
// so, with nothing left there.
func TestCopyPermissions(t *testing.T) {
	s := startS3(t)
	ctx := context.Background()
	buildKey := strings.Repeat("a", 64)
	src, data, _ := s.storedArtifact(t, buildKey, 2000)
	away := s.regionBucket(t, awayRegion)
	dst := Location{Bucket: away, Key: src.Key}
	policy := func(dstActions string) string {
		return `{"Version":"2012-10-17","Statement":[` +
			`{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::` + src.Bucket + `","arn:aws:s3:::` + src.Bucket + `/*"]},` +
			`{"Effect":"Allow","Action":[` + dstActions + `],"Resource":["arn:aws:s3:::` + away + `","arn:aws:s3:::` + away + `/*"]}]}`
	}
	deployKey, deploySecret := s.m.CreateUser(t, "deployer", policy(`"s3:GetObject","s3:PutObject","s3:ListBucket"`))
	readerKey, readerSecret := s.m.CreateUser(t, "reader", policy(`"s3:GetObject","s3:ListBucket"`))
	if err := s.m.EnforceAuth(); err != nil {
		t.Fatal(err)
	}
	clients := func(key, secret string) (from, to *s3.Client) {
		t.Setenv("AWS_ACCESS_KEY_ID", key)
		t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		return s.regionClient(t, "us-east-1"), s.regionClient(t, awayRegion)
	}

	from, to := clients(readerKey, readerSecret)
	if _, err := Copy(ctx, from, to, src, dst, buildKey, nil); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("copy by a user who may not write the destination = %v, want ErrAccessDenied", err)
	}

	// The server now refuses the test's own key: the deployer checks.
	from, to = clients(deployKey, deploySecret)
	for _, loc := range []Location{dst, ReportLocation(dst)} {
		if ex, err := Stat(ctx, to, loc); err != nil || ex != nil {
			t.Errorf("after the refused copy, %s: %+v, %v; want nothing there", loc, ex, err)
		}
	}
	obj, err := Copy(ctx, from, to, src, dst, buildKey, nil)
	if err != nil || obj.CopiedFrom != src.String() {
		t.Fatalf("copy with the documented permissions = %+v, %v", obj, err)
	}
	if got, err := hashObject(ctx, to, dst, int64(len(data))); err != nil || got != sha(data) {
		t.Errorf("the copy's sha256 = %s, %v; want the source's %s", got, err, sha(data))
	}
}
