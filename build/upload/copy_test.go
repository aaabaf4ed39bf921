package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	obj, err := Copy(ctx, s.c, to, src, dst, buildKey, nil, nil)
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
	again, err := Copy(ctx, s.c, to, src, dst, buildKey, nil, nil)
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
	_, err := Copy(ctx, s.c, to, src, dst, buildKey, nil, nil)
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
	_, err := Copy(ctx, s.c, to, missing, Location{Bucket: away, Key: missing.Key}, buildKey, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "holds no artifact built from key "+buildKey) || !strings.Contains(err.Error(), "no object") {
		t.Errorf("Copy of a missing source = %v, want it named, with why", err)
	}

	// A source built from another key is not the artifact asked for.
	src, _, _ := s.storedArtifact(t, strings.Repeat("f", 64), 100)
	_, err = Copy(ctx, s.c, to, src, Location{Bucket: away, Key: src.Key}, buildKey, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "built from key "+strings.Repeat("f", 64)) {
		t.Errorf("Copy of another key's artifact = %v, want both keys named", err)
	}
	if got := s.get(t, Location{Bucket: away, Key: src.Key}); got != nil {
		t.Errorf("something was copied anyway")
	}

	if _, err := Copy(ctx, s.c, s.c, src, src, buildKey, nil, nil); err == nil || !strings.Contains(err.Error(), "same object") {
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
	if _, err := Copy(ctx, from, to, src, dst, buildKey, nil, nil); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("copy by a user who may not write the destination = %v, want ErrAccessDenied", err)
	}

	// The server now refuses the test's own key: the deployer checks.
	from, to = clients(deployKey, deploySecret)
	for _, loc := range []Location{dst, ReportLocation(dst)} {
		if ex, err := Stat(ctx, to, loc); err != nil || ex != nil {
			t.Errorf("after the refused copy, %s: %+v, %v; want nothing there", loc, ex, err)
		}
	}
	obj, err := Copy(ctx, from, to, src, dst, buildKey, nil, nil)
	if err != nil || obj.CopiedFrom != src.String() {
		t.Fatalf("copy with the documented permissions = %+v, %v", obj, err)
	}
	if got, err := hashObject(ctx, to, dst, int64(len(data))); err != nil || got != sha(data) {
		t.Errorf("the copy's sha256 = %s, %v; want the source's %s", got, err, sha(data))
	}
}

// The SBOM beside an artifact goes with it to every region: copied inside
// S3 before the report and the zip, reused when the same bytes are there,
// refused when others are; the report beside the copy is the one relocate
// gives, told where the copy's SBOM is.
func TestCopySBOMAgainstMoto(t *testing.T) {
	s := startS3(t)
	doc := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}` + "\n")
	other := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"other"}]}` + "\n")
	for i, tc := range []struct {
		name string
		// beside is the SBOM stored beside the source (nil: none); named
		// is the sha256 the source's report names ("": none, a report
		// from before SBOMs).
		beside []byte
		named  string
		// atDst is an SBOM already beside the destination (nil: none).
		atDst []byte
		// want: the SBOM found beside the copy (nil: none), or the error.
		want    []byte
		wantErr string
		note    string
	}{
		{name: "named by the report", beside: doc, named: sha(doc), want: doc},
		{name: "the same bytes already there", beside: doc, named: sha(doc), atDst: doc, want: doc},
		{name: "another SBOM already there", beside: doc, named: sha(doc), atDst: other, wantErr: "already holds a different object"},
		{name: "not the one the report names", beside: other, named: sha(doc), wantErr: "not " + sha(doc) + " as the report"},
		{name: "named but missing", named: sha(doc), wantErr: "but there is none at"},
		{name: "a report from before SBOMs, one stored since", beside: doc, want: doc, note: "names no SBOM"},
		{name: "a report from before SBOMs, none stored", note: "has no SBOM beside it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			buildKey := fmt.Sprintf("%064x", i+1)
			src := Location{Bucket: s.bucket(t), Key: "layers/img/" + buildKey + ".zip"}
			path, data, sum := artifact(t, 4000)
			report := `{"key":"` + buildKey + `","sha256":"` + sum + `","zipBytes":4000`
			if tc.named != "" {
				report += `,"sbom":{"specVersion":"1.6","sha256":"` + tc.named + `","s3":"` + SBOMLocation(src).String() + `"}`
			}
			report += "}\n"
			a := Artifact{Path: path, SHA256: sum, BuildKey: buildKey, Report: []byte(report), SBOM: tc.beside, SBOMType: "application/vnd.cyclonedx+json"}
			if _, err := UploadArtifact(ctx, s.c, src, a, Options{}, nil); err != nil {
				t.Fatal(err)
			}
			dst := Location{Bucket: s.regionBucket(t, awayRegion), Key: src.Key}
			if tc.atDst != nil {
				if _, err := UploadSBOM(ctx, s.direct, dst, tc.atDst, "application/json"); err != nil {
					t.Fatal(err)
				}
			}

			var got *CopiedSBOM
			relocated := []byte(`{"relocated":true}` + "\n")
			relocate := func(r []byte, sb *CopiedSBOM) ([]byte, error) {
				if string(r) != report {
					t.Errorf("relocate was given %q, want the source's report %q", r, report)
				}
				got = sb
				return relocated, nil
			}
			var log strings.Builder
			s.rec.Reset()
			_, err := Copy(ctx, s.c, s.regionClient(t, awayRegion), src, dst, buildKey, relocate, &log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Copy = %v, want an error saying %q", err, tc.wantErr)
				}
				if strings.Contains(tc.wantErr, "different object") && !errors.Is(err, ErrConflict) {
					t.Errorf("Copy = %v, want an ErrConflict", err)
				}
				// Nothing is left beside a zip it would not describe.
				for _, loc := range []Location{dst, ReportLocation(dst)} {
					if b := s.get(t, loc); b != nil {
						t.Errorf("%s was written after the SBOM was refused", loc)
					}
				}
				if b := s.get(t, SBOMLocation(dst)); !bytes.Equal(b, tc.atDst) {
					t.Errorf("the SBOM at the destination is now %q, want it left as %q", b, tc.atDst)
				}
				return
			}
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if tc.note != "" && !strings.Contains(log.String(), tc.note) {
				t.Errorf("log %q, want a note saying %q", log.String(), tc.note)
			}
			if b := s.get(t, SBOMLocation(dst)); !bytes.Equal(b, tc.want) {
				t.Errorf("beside the copy: SBOM %q, want %q", b, tc.want)
			}
			switch {
			case tc.want == nil && got != nil:
				t.Errorf("relocate was told of an SBOM %+v, want none", got)
			case tc.want != nil && (got == nil || got.Location != SBOMLocation(dst) || got.SHA256 != sha(tc.want)):
				t.Errorf("relocate was told of the SBOM %+v, want %s with sha256 %s", got, SBOMLocation(dst), sha(tc.want))
			}
			if b := s.get(t, ReportLocation(dst)); !bytes.Equal(b, relocated) {
				t.Errorf("the report beside the copy is %q, want relocate's %q", b, relocated)
			}
			if b := s.get(t, dst); !bytes.Equal(b, data) {
				t.Error("the zip was not copied")
			}
			// The SBOM is copied inside S3 (never read out and sent), and
			// stored before the report and the zip.
			var order []string
			for _, r := range s.rec.Requests() {
				if r.Method == http.MethodGet && strings.HasSuffix(r.Path, SBOMSuffix) {
					t.Errorf("the SBOM was read: %s %s", r.Method, r.Path)
				}
				if r.Method != http.MethodPut || !strings.HasPrefix(r.Path, "/"+dst.Bucket+"/") {
					continue
				}
				order = append(order, strings.TrimPrefix(r.Path, "/"+dst.Bucket+"/layers/img/"+buildKey))
				if strings.HasSuffix(r.Path, SBOMSuffix) && r.Header.Get("X-Amz-Copy-Source") != src.Bucket+"/"+SBOMLocation(src).Key {
					t.Errorf("the SBOM was written by %s %s without x-amz-copy-source", r.Method, r.Path)
				}
			}
			wantOrder := []string{".zip" + ReportSuffix, ".zip"}
			if tc.want != nil && tc.atDst == nil {
				wantOrder = append([]string{SBOMSuffix}, wantOrder...)
			}
			if !slices.Equal(order, wantOrder) {
				t.Errorf("writes to the destination %v, want %v", order, wantOrder)
			}
			if tc.want != nil && tc.atDst == nil {
				out, err := s.direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(dst.Bucket), Key: aws.String(SBOMLocation(dst).Key)})
				if err != nil || aws.ToString(out.ContentType) != a.SBOMType {
					t.Errorf("the copied SBOM's content type = %v (%v), want the source's %s", out, err, a.SBOMType)
				}
			}

			// Again: everything is there, nothing is written.
			s.rec.Reset()
			if _, err := Copy(ctx, s.c, s.regionClient(t, awayRegion), src, dst, buildKey, relocate, nil); err != nil {
				t.Fatalf("second Copy: %v", err)
			}
			if s.writes() != 0 {
				t.Errorf("second Copy wrote: %v", methods(s.rec.Requests()))
			}
		})
	}
}
