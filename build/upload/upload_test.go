package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// motoS3 is one moto_server with the environment pointed at it, a client
// that goes through a recording proxy (what the code under test uses) and
// one that goes straight to the server (for setup and checks).
type motoS3 struct {
	m      *testenv.Moto
	rec    *testenv.Recorder
	c      *s3.Client
	direct *s3.Client
}

func startS3(t *testing.T) *motoS3 {
	t.Helper()
	m := testenv.StartMoto(t)
	m.Setenv(t)
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec := testenv.RecordRequests(t, m.Endpoint)
	return &motoS3{
		m:      m,
		rec:    rec,
		c:      awsconfig.NewS3(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(rec.Endpoint) }),
		direct: awsconfig.NewS3(cfg),
	}
}

var bucketSeq atomic.Int64

// bucket creates a fresh bucket, so subtests sharing a server stay apart.
func (s *motoS3) bucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("lambdapack-test-%d", bucketSeq.Add(1))
	if _, err := s.direct.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return name
}

// get returns an object's bytes, or nil when there is none.
func (s *motoS3) get(t *testing.T, loc Location) []byte {
	t.Helper()
	out, err := s.direct.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key)})
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pendingUploads lists the bucket's unfinished multipart uploads.
func (s *motoS3) pendingUploads(t *testing.T, bucket string) []types.MultipartUpload {
	t.Helper()
	out, err := s.direct.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Uploads
}

// writes counts the requests that could create or change an object.
func (s *motoS3) writes() int {
	return s.rec.Count(http.MethodPut) + s.rec.Count(http.MethodPost) + s.rec.Count(http.MethodDelete)
}

// artifact writes n random bytes to a file and returns its path, bytes
// and sha256.
func artifact(t *testing.T, n int) (string, []byte, string) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "artifact.zip")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b, sha(b)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestUploadAgainstMoto(t *testing.T) {
	s := startS3(t)
	ctx := context.Background()

	t.Run("new object, then reused with nothing sent", func(t *testing.T) {
		loc := Location{Bucket: s.bucket(t), Key: "layers/img/k1.zip"}
		path, data, sum := artifact(t, 70_000)
		s.rec.Reset()
		obj, err := Upload(ctx, s.c, loc, path, sum, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if obj.Reused || obj.Bucket != loc.Bucket || obj.Key != loc.Key {
			t.Errorf("first upload = %+v, want a new object at %s", obj, loc)
		}
		if got := s.get(t, loc); !bytes.Equal(got, data) {
			t.Fatalf("stored object is %d bytes, not the file's %d", len(got), len(data))
		}
		puts := s.rec.Requests()
		if len(puts) != 2 || puts[0].Method != http.MethodHead || puts[1].Method != http.MethodPut {
			t.Fatalf("first upload sent %v, want HEAD then PUT", methods(puts))
		}
		for h, want := range map[string]string{
			"X-Amz-Checksum-Sha256": b64(sum),
			"X-Amz-Meta-Sha256":     sum,
			"If-None-Match":         "*",
		} {
			if got := puts[1].Header.Get(h); got != want {
				t.Errorf("PUT header %s = %q, want %q", h, got, want)
			}
		}
		head, err := s.direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(head.ChecksumSHA256); got != b64(sum) {
			t.Errorf("stored checksum %q, want %q", got, b64(sum))
		}

		s.rec.Reset()
		obj, err = Upload(ctx, s.c, loc, path, sum, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !obj.Reused {
			t.Errorf("second upload = %+v, want reused", obj)
		}
		if got := s.rec.Requests(); len(got) != 1 || got[0].Method != http.MethodHead {
			t.Errorf("second upload sent %v, want only a HEAD", methods(got))
		}
	})

	t.Run("a different object under the key is refused and left unchanged", func(t *testing.T) {
		loc := Location{Bucket: s.bucket(t), Key: "layers/img/k2.zip"}
		firstPath, first, firstSum := artifact(t, 5_000)
		if _, err := Upload(ctx, s.c, loc, firstPath, firstSum, Options{}); err != nil {
			t.Fatal(err)
		}
		path, _, sum := artifact(t, 5_000)
		s.rec.Reset()
		_, err := Upload(ctx, s.c, loc, path, sum, Options{})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("upload over a different object = %v, want ErrConflict", err)
		}
		for _, want := range []string{firstSum, sum, loc.String(), "never overwrites"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if s.writes() != 0 {
			t.Errorf("the refused upload sent %v", methods(s.rec.Requests()))
		}
		if got := s.get(t, loc); !bytes.Equal(got, first) {
			t.Error("the stored object changed")
		}
	})

	t.Run("multipart forced on a small file", func(t *testing.T) {
		bucket := s.bucket(t)
		loc := Location{Bucket: bucket, Key: "layers/img/mp.zip"}
		path, data, sum := artifact(t, 2*MinPartSize+12345)
		var seen []int
		s.rec.Reset()
		obj, err := Upload(ctx, s.c, loc, path, sum, Options{
			MultipartThreshold: 1, PartSize: MinPartSize, Concurrency: 1,
			OnPart: func(done, total int) { seen = append(seen, done, total) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if obj.Reused {
			t.Errorf("upload = %+v, want new", obj)
		}
		if fmt.Sprint(seen) != "[1 3 2 3 3 3]" {
			t.Errorf("OnPart calls %v, want 3 parts reported in order", seen)
		}
		got := s.get(t, loc)
		if sha(got) != sum || len(got) != len(data) {
			t.Fatalf("stored object: %d bytes, sha256 %s; want %d bytes, %s", len(got), sha(got), len(data), sum)
		}
		parts := 0
		for _, r := range s.rec.Requests() {
			if r.Method == http.MethodPut && strings.Contains(r.RawQuery, "partNumber=") {
				parts++
				if r.Header.Get("X-Amz-Checksum-Sha256") == "" {
					t.Errorf("part %s sent without a sha256 checksum", r.RawQuery)
				}
			}
		}
		if parts != 3 {
			t.Errorf("sent %d parts, want 3", parts)
		}
		ex, err := Stat(ctx, s.direct, loc)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Claimed != sum || ex.Checksum != "" || ex.Composite == "" || ex.Parts != 3 || !strings.Contains(ex.ETag, "-3") {
			t.Errorf("Stat = %+v, want sha256 %s claimed by the metadata, a composite checksum of 3 parts and a 3-part ETag", ex, sum)
		}
		if up := s.pendingUploads(t, bucket); len(up) != 0 {
			t.Errorf("%d multipart uploads left pending", len(up))
		}
		s.rec.Reset()
		obj, err = Upload(ctx, s.c, loc, path, sum, Options{MultipartThreshold: 1, PartSize: MinPartSize})
		if err != nil || !obj.Reused || s.writes() != 0 || s.rec.Count(http.MethodGet) != 0 {
			t.Errorf("re-upload of the multipart object = %+v, %v, sent %v; want reused with only HEADs (the composite checksum recomputed, not the object read back)",
				obj, err, methods(s.rec.Requests()))
		}
	})

	t.Run("cancel during multipart aborts: no object, no pending upload", func(t *testing.T) {
		bucket := s.bucket(t)
		loc := Location{Bucket: bucket, Key: "layers/img/cancel.zip"}
		path, _, sum := artifact(t, 2*MinPartSize+1)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		_, err := Upload(cctx, s.c, loc, path, sum, Options{
			MultipartThreshold: 1, PartSize: MinPartSize, Concurrency: 1,
			OnPart: func(done, total int) { cancel() },
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled upload = %v, want context.Canceled", err)
		}
		if s.get(t, loc) != nil {
			t.Error("an object appeared after a canceled upload")
		}
		if up := s.pendingUploads(t, bucket); len(up) != 0 {
			t.Errorf("%d multipart uploads left pending after cancel", len(up))
		}
		if s.rec.Count(http.MethodDelete) != 1 {
			t.Errorf("sent %v, want one DELETE (abort)", methods(s.rec.Requests()))
		}
	})

	t.Run("a part that fails aborts: no object, no pending upload", func(t *testing.T) {
		bucket := s.bucket(t)
		loc := Location{Bucket: bucket, Key: "layers/img/fail.zip"}
		path, _, sum := artifact(t, 2*MinPartSize+1)
		s.rec.Intercept(func(r *http.Request) int {
			if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
				return http.StatusInternalServerError
			}
			return 0
		})
		defer s.rec.Intercept(nil)
		_, err := Upload(ctx, s.c, loc, path, sum, Options{MultipartThreshold: 1, PartSize: MinPartSize, Concurrency: 1})
		if err == nil || !strings.Contains(err.Error(), "part 2/3") {
			t.Fatalf("upload with a failing part = %v, want an error naming part 2/3", err)
		}
		if s.get(t, loc) != nil {
			t.Error("an object appeared after a failed upload")
		}
		if up := s.pendingUploads(t, bucket); len(up) != 0 {
			t.Errorf("%d multipart uploads left pending after a failure", len(up))
		}
	})

	for _, same := range []bool{false, true} {
		t.Run(fmt.Sprintf("racing writer during multipart, same bytes %v", same), func(t *testing.T) {
			bucket := s.bucket(t)
			loc := Location{Bucket: bucket, Key: "layers/img/race.zip"}
			path, data, sum := artifact(t, MinPartSize+1)
			other := []byte("written by a racing deploy")
			if same {
				other = data
			}
			var raced bool
			obj, err := Upload(ctx, s.c, loc, path, sum, Options{
				MultipartThreshold: 1, PartSize: MinPartSize, Concurrency: 1,
				OnPart: func(done, total int) {
					if raced {
						return
					}
					raced = true
					// The other deploy writes the key between our HEAD and
					// our completion, with its own checksum metadata.
					_, err := s.direct.PutObject(ctx, &s3.PutObjectInput{
						Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key), Body: bytes.NewReader(other),
						Metadata: map[string]string{MetaSHA256: sha(other)},
					})
					if err != nil {
						t.Error(err)
					}
				},
			})
			if same {
				if err != nil || !obj.Reused {
					t.Errorf("upload that lost a race to the same bytes = %+v, %v; want reused", obj, err)
				}
			} else if !errors.Is(err, ErrConflict) {
				t.Errorf("upload that lost a race to other bytes = %v, want ErrConflict", err)
			}
			if got := s.get(t, loc); !bytes.Equal(got, other) {
				t.Error("the racing writer's object was overwritten")
			}
			if up := s.pendingUploads(t, bucket); len(up) != 0 {
				t.Errorf("%d multipart uploads left pending", len(up))
			}
		})
	}

	t.Run("racing writer before a single PUT", func(t *testing.T) {
		loc := Location{Bucket: s.bucket(t), Key: "layers/img/race1.zip"}
		path, _, sum := artifact(t, 1000)
		other := []byte("first")
		s.rec.Intercept(func(r *http.Request) int {
			if r.Method == http.MethodPut {
				_, err := s.direct.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key), Body: bytes.NewReader(other)})
				if err != nil {
					t.Error(err)
				}
			}
			return 0
		})
		defer s.rec.Intercept(nil)
		_, err := Upload(ctx, s.c, loc, path, sum, Options{})
		if !errors.Is(err, ErrConflict) {
			t.Errorf("PUT that lost a race = %v, want ErrConflict (If-None-Match refused it)", err)
		}
		if got := s.get(t, loc); !bytes.Equal(got, other) {
			t.Error("the racing writer's object was overwritten")
		}
	})

	t.Run("an object without checksum or metadata is compared by its bytes", func(t *testing.T) {
		loc := Location{Bucket: s.bucket(t), Key: "other-tool.zip"}
		path, data, sum := artifact(t, 3000)
		plain := awsconfig.NewS3(aws.Config{}, func(o *s3.Options) {
			*o = s.direct.Options()
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
		if _, err := plain.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		ex, err := Stat(ctx, s.direct, loc)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Checksum != "" && ex.Checksum != sum {
			t.Fatalf("Stat of a plain object says sha256 %s, want %s or nothing", ex.Checksum, sum)
		}
		s.rec.Reset()
		obj, err := Upload(ctx, s.c, loc, path, sum, Options{})
		if err != nil || !obj.Reused || s.writes() != 0 {
			t.Errorf("upload over the same plain object = %+v, %v, sent %v; want reused, nothing written", obj, err, methods(s.rec.Requests()))
		}
		path2, _, sum2 := artifact(t, 3000)
		if _, err := Upload(ctx, s.c, loc, path2, sum2, Options{}); !errors.Is(err, ErrConflict) {
			t.Errorf("upload over a different plain object = %v, want ErrConflict", err)
		}
	})

	t.Run("metadata and checksum that disagree are refused", func(t *testing.T) {
		loc := Location{Bucket: s.bucket(t), Key: "liar.zip"}
		data := []byte("real bytes")
		wrong := sha([]byte("other bytes"))
		_, err := s.direct.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key), Body: bytes.NewReader(data),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(b64(sha(data))),
			Metadata: map[string]string{MetaSHA256: wrong},
		})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "a.zip")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Upload(ctx, s.c, loc, path, sha(data), Options{})
		if err == nil || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("upload over an inconsistent object = %v, want a refusal naming %s", err, wrong)
		}
	})

	t.Run("a file that is not what its build reported is not sent", func(t *testing.T) {
		loc := Location{Bucket: s.bucket(t), Key: "changed.zip"}
		for _, opts := range []Options{{}, {MultipartThreshold: 1, PartSize: MinPartSize}} {
			path, _, _ := artifact(t, 100)
			claimed := sha([]byte("what the build wrote"))
			s.rec.Reset()
			_, err := Upload(ctx, s.c, loc, path, claimed, opts)
			if err == nil || !strings.Contains(err.Error(), claimed) || !strings.Contains(err.Error(), "changed after it was built") {
				t.Errorf("upload of a changed file = %v, want an error naming the claimed sha256", err)
			}
			if s.writes() != 0 {
				t.Errorf("sent %v for a changed file", methods(s.rec.Requests()))
			}
		}
	})

	t.Run("no such bucket", func(t *testing.T) {
		loc := Location{Bucket: "no-such-bucket-here", Key: "k.zip"}
		path, _, sum := artifact(t, 10)
		_, err := Upload(ctx, s.c, loc, path, sum, Options{})
		if !errors.Is(err, ErrNoSuchBucket) || !strings.Contains(err.Error(), `"no-such-bucket-here" does not exist`) {
			t.Errorf("upload to a missing bucket = %v, want ErrNoSuchBucket naming it", err)
		}
		if err := CheckBucket(ctx, s.c, loc.Bucket); !errors.Is(err, ErrNoSuchBucket) {
			t.Errorf("CheckBucket(missing) = %v, want ErrNoSuchBucket", err)
		}
		if err := CheckBucket(ctx, s.c, s.bucket(t)); err != nil {
			t.Errorf("CheckBucket(existing) = %v", err)
		}
	})

	t.Run("bad options", func(t *testing.T) {
		loc := Location{Bucket: s.bucket(t), Key: "k.zip"}
		path, _, sum := artifact(t, 10)
		for _, o := range []Options{{PartSize: MinPartSize - 1}, {Metadata: map[string]string{"Upper": "x"}}, {Metadata: map[string]string{MetaSHA256: "x"}}} {
			if _, err := Upload(ctx, s.c, loc, path, sum, o); err == nil {
				t.Errorf("Upload with %+v succeeded", o)
			}
		}
		if _, err := Upload(ctx, s.c, loc, path, "ABC", Options{}); err == nil || !strings.Contains(err.Error(), "64 lowercase hex") {
			t.Errorf("Upload with a bad sha256 = %v", err)
		}
	})
}

// An endpoint nobody listens on is reported as not answering, naming it
// and the variable that chose it.
func TestUploadUnreachableEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	testenv.SetenvAll(t, testenv.EndpointEnv(endpoint))
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := awsconfig.NewS3(cfg, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	path, _, sum := artifact(t, 10)
	_, err = Upload(context.Background(), c, Location{Bucket: "bkt", Key: "k.zip"}, path, sum, Options{})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("upload to a closed port = %v, want ErrUnreachable", err)
	}
	for _, want := range []string{endpoint, "does not answer", "connection refused", "AWS_ENDPOINT_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// With moto checking signatures and IAM policies as AWS does: a user who
// may read but not write is told access is denied, and an unknown key is
// told its credentials were refused.
func TestUploadAccessDeniedAndBadCredentials(t *testing.T) {
	s := startS3(t)
	ctx := context.Background()
	bucket := s.bucket(t)
	readerKey, readerSecret := s.m.CreateUser(t, "reader",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}`)
	if err := s.m.EnforceAuth(); err != nil {
		t.Fatal(err)
	}
	path, _, sum := artifact(t, 10)
	loc := Location{Bucket: bucket, Key: "layers/x.zip"}

	t.Setenv("AWS_ACCESS_KEY_ID", readerKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", readerSecret)
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Upload(ctx, awsconfig.NewS3(cfg), loc, path, sum, Options{})
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "s3:PutObject") {
		t.Errorf("upload by a read-only user = %v, want ErrAccessDenied naming s3:PutObject", err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "AKIANOTAKEYATALL000")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	cfg, err = awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Upload(ctx, awsconfig.NewS3(cfg), loc, path, sum, Options{})
	if !errors.Is(err, ErrCredentialsRefused) && !errors.Is(err, ErrAccessDenied) {
		t.Errorf("upload with an unknown key = %v, want ErrCredentialsRefused or ErrAccessDenied", err)
	}
	if err != nil && !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("error %q does not point at the credentials", err)
	}
}

func methods(rs []testenv.Request) []string {
	var out []string
	for _, r := range rs {
		q := ""
		if r.RawQuery != "" {
			q = "?" + r.RawQuery
		}
		out = append(out, r.Method+" "+r.Path+q)
	}
	return out
}

func b64(hexsum string) string {
	raw, _ := hex.DecodeString(hexsum)
	return base64.StdEncoding.EncodeToString(raw)
}
