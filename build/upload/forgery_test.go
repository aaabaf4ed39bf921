package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/galerly/galerly-lambda/build/awsconfig"
)

// forger writes objects the way someone with write access to the bucket
// (or a tool other than lambdapack) can: any bytes, any metadata, with or
// without an S3 checksum, whole or in parts.
type forger struct {
	s     *motoS3
	plain *s3.Client // sends no checksum unless told to
}

func newForger(s *motoS3) *forger {
	return &forger{s: s, plain: awsconfig.NewS3(aws.Config{}, func(o *s3.Options) {
		*o = s.direct.Options()
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})}
}

// put writes data at loc with meta; withChecksum asks S3 for a sha256
// checksum of the bytes it receives.
func (f *forger) put(t *testing.T, loc Location, data []byte, meta map[string]string, withChecksum bool) {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key), Body: bytes.NewReader(data), Metadata: meta}
	if withChecksum {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
	}
	if _, err := f.plain.PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// putParts writes data at loc in parts of partSize, each with its sha256,
// as lambdapack's own multipart uploads are.
func (f *forger) putParts(t *testing.T, loc Location, data []byte, partSize int, meta map[string]string) {
	t.Helper()
	path := t.TempDir() + "/parts.bin"
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	u := &uploader{c: f.s.direct, loc: loc, r: bytes.NewReader(data), name: path, size: int64(len(data)), sha: sha(data),
		opts: Options{PartSize: int64(partSize), Concurrency: 1, ContentType: "application/zip", Metadata: meta}}
	if err := u.multipart(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Objects whose metadata claims the artifact's sha256 but whose bytes are
// others are refused with the conflict error naming both, whatever S3
// keeps of them, and are left as they are.
func TestForgedMetadataIsRefused(t *testing.T) {
	s := startS3(t)
	f := newForger(s)
	ctx := context.Background()
	path, data, sum := artifact(t, MinPartSize+1000)
	cases := []struct {
		name   string
		forged []byte
		write  func(t *testing.T, loc Location, forged []byte, meta map[string]string)
		// what shows the bytes differ: "" when the sizes do
		how string
	}{
		{"same size, no checksum", bytes.Repeat([]byte("x"), len(data)),
			func(t *testing.T, loc Location, b []byte, m map[string]string) { f.put(t, loc, b, m, false) }, byReading},
		{"different size, no checksum", []byte("8 bytes!"),
			func(t *testing.T, loc Location, b []byte, m map[string]string) { f.put(t, loc, b, m, false) }, ""},
		{"same size, S3 checksum of the forged bytes", bytes.Repeat([]byte("y"), len(data)),
			func(t *testing.T, loc Location, b []byte, m map[string]string) { f.put(t, loc, b, m, true) }, byChecksum},
		{"same size, in parts", bytes.Repeat([]byte("z"), len(data)),
			func(t *testing.T, loc Location, b []byte, m map[string]string) { f.putParts(t, loc, b, MinPartSize, m) }, byReading},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loc := Location{Bucket: s.bucket(t), Key: "layers/forged.zip"}
			// Metadata claiming the artifact's sha256 only: S3 does not
			// let metadata contradict its own checksum, so a forger
			// leaves the checksum out, or lets S3 compute the real one.
			meta := map[string]string{MetaSHA256: sum}
			if c.how == byChecksum {
				meta = nil
			}
			c.write(t, loc, c.forged, meta)
			s.rec.Reset()
			_, err := Upload(ctx, s.c, loc, path, sum, Options{})
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("Upload over a forged object = %v, want a *ConflictError", err)
			}
			msg := err.Error()
			for _, w := range []string{loc.String(), sum, fmt.Sprintf("%d bytes", len(c.forged)), "never overwrites"} {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %s", w, msg)
				}
			}
			if c.how != "" && (ce.Existing != sha(c.forged) || ce.How != c.how) {
				t.Errorf("conflict names sha256 %s by %q, want %s by %q", ce.Existing, ce.How, sha(c.forged), c.how)
			}
			if meta != nil && !strings.Contains(msg, "metadata claims sha256 "+sum) {
				t.Errorf("message does not say the metadata lies: %s", msg)
			}
			if c.how == "" && s.rec.Count(http.MethodGet) != 0 {
				t.Errorf("sizes differ, yet the object was read: %v", methods(s.rec.Requests()))
			}
			if s.writes() != 0 {
				t.Errorf("wrote %v over a forged object", methods(s.rec.Requests()))
			}
			if got := s.get(t, loc); !bytes.Equal(got, c.forged) {
				t.Error("the forged object changed")
			}
		})
	}
}

// Find skips the build only when S3 shows the zip's bytes are the ones
// its report names: a forged zip with the genuine report and all of the
// metadata copied is not found, and says why.
func TestFindNeedsProofOfTheZip(t *testing.T) {
	s := startS3(t)
	f := newForger(s)
	ctx := context.Background()
	buildKey := strings.Repeat("a", 64)
	path, data, sum := artifact(t, 3000)
	report := []byte(fmt.Sprintf(`{"key":%q,"sha256":%q,"zipBytes":%d}`+"\n", buildKey, sum, len(data)))
	meta := map[string]string{MetaSHA256: sum, MetaBuildKey: buildKey, MetaReportSHA256: sha(report)}

	t.Run("genuine, found", func(t *testing.T) {
		loc := Location{Bucket: s.bucket(t), Key: "a.zip"}
		if _, err := UploadArtifact(ctx, s.c, loc, Artifact{Path: path, SHA256: sum, BuildKey: buildKey, Report: report}, Options{}, nil); err != nil {
			t.Fatal(err)
		}
		st, miss, err := Find(ctx, s.c, loc, buildKey)
		if err != nil || st == nil || st.SHA256 != sum {
			t.Errorf("Find = %+v, %+v, %v; want the artifact", st, miss, err)
		}
	})
	cases := []struct {
		name   string
		forged []byte
		check  bool // the forged zip carries S3's checksum of its bytes
		why    string
	}{
		{"same size", bytes.Repeat([]byte("x"), len(data)), false, "by " + byReading + ", not " + sum + " as its report says"},
		{"same size, S3 checksum", bytes.Repeat([]byte("x"), len(data)), true, "by " + byChecksum + ", not " + sum},
		{"different size", []byte("forged"), false, fmt.Sprintf("gives %d zip bytes but", len(data))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loc := Location{Bucket: s.bucket(t), Key: "a.zip"}
			m := meta
			if c.check {
				m = map[string]string{MetaBuildKey: buildKey, MetaReportSHA256: sha(report)}
			}
			f.put(t, ReportLocation(loc), report, nil, true)
			f.put(t, loc, c.forged, m, c.check)
			st, miss, err := Find(ctx, s.c, loc, buildKey)
			if err != nil || st != nil || !strings.Contains(miss.Why, c.why) {
				t.Errorf("Find = %+v, %+v, %v; want nothing, because %q", st, miss, err, c.why)
			}
		})
	}

	t.Run("a zip sent in parts is found by reading it back", func(t *testing.T) {
		loc := Location{Bucket: s.bucket(t), Key: "big.zip"}
		bigPath, big, bigSum := artifact(t, MinPartSize+10)
		bigReport := []byte(fmt.Sprintf(`{"key":%q,"sha256":%q,"zipBytes":%d}`, buildKey, bigSum, len(big)))
		if _, err := UploadArtifact(ctx, s.c, loc, Artifact{Path: bigPath, SHA256: bigSum, BuildKey: buildKey, Report: bigReport},
			Options{MultipartThreshold: 1, PartSize: MinPartSize}, nil); err != nil {
			t.Fatal(err)
		}
		s.rec.Reset()
		st, miss, err := Find(ctx, s.c, loc, buildKey)
		if err != nil || st == nil || st.SHA256 != bigSum {
			t.Errorf("Find = %+v, %+v, %v; want the artifact", st, miss, err)
		}
		if n := s.rec.Count(http.MethodGet); n != 2 {
			t.Errorf("sent %v; want the report and the zip read", methods(s.rec.Requests()))
		}
	})
}
