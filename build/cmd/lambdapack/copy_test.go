package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/build/upload"
)

// A layer built once and uploaded to the home region's bucket reaches a
// bucket in a second region by `lambdapack copy`, inside S3, with the
// report it was built with; a second copy finds it there and does nothing.
func TestCopyToASecondRegion(t *testing.T) {
	s := newS3Moto(t)
	const away = "eu-west-1"
	awayBucket := "galerly-artifacts-" + away
	_, err := s.direct.CreateBucket(context.Background(), &s3.CreateBucketInput{
		Bucket:                    aws.String(awayBucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(away)},
	})
	if err != nil {
		t.Fatal(err)
	}

	// A pure wheel and --no-bytecode: a layer no interpreter is needed for.
	dir := t.TempDir()
	_, sum, err := wheeltest.Pure(dir, "purepkg", "2.0", map[string]string{"purepkg/__init__.py": "__version__ = '2.0'\n"})
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(t.TempDir(), "requirements.txt")
	if err := os.WriteFile(lockPath, []byte("purepkg==2.0 --hash=sha256:"+sum+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := []string{"--lock", lockPath, "--runtime", "python3.12", "--arch", "arm64", "--no-bytecode"}
	k := lambdapack(append([]string{"key"}, target...)...)
	if k.code != 0 {
		t.Fatalf("key: %s", k.stderr)
	}
	key := strings.TrimSpace(k.stdout)
	s3Key := "layers/galerly-image-processing/" + key + ".zip"
	home := "s3://" + s.bucket + "/" + s3Key
	dest := "s3://" + awayBucket + "/" + s3Key
	built := lambdapack(append([]string{"layer"}, append(target, "--no-index", "--find-links", dir, "--cache", t.TempDir(),
		"--out", filepath.Join(t.TempDir(), "layer.zip"), "--upload", home)...)...)
	if built.code != 0 {
		t.Fatalf("layer --upload: exit %d\n%s", built.code, built.stderr)
	}
	layer := decodeUploaded(t, built)

	// The step of the program: the destination's region from the
	// environment, the source's named.
	t.Setenv("AWS_REGION", away)
	s.rec.Reset()
	r := lambdapack("copy", "--build-key", key, "--from", home, "--from-region", "us-east-1", "--to", dest)
	if r.code != 0 {
		t.Fatalf("copy: exit %d\n%s", r.code, r.stderr)
	}
	copied := decodeUploaded(t, r)
	if copied.Key != key || copied.SHA256 != layer.SHA256 || copied.ZipBytes != layer.ZipBytes || copied.UnzippedBytes != layer.UnzippedBytes {
		t.Errorf("copy reported key %s sha256 %s %d/%d bytes, want the build's: %s %s %d/%d",
			copied.Key, copied.SHA256, copied.ZipBytes, copied.UnzippedBytes, key, layer.SHA256, layer.ZipBytes, layer.UnzippedBytes)
	}
	if copied.S3 == nil || copied.S3.Bucket != awayBucket || copied.S3.CopiedFrom != home || copied.S3.Reused {
		t.Errorf("copy s3 = %+v, want a new object in %s copied from %s", copied.S3, awayBucket, home)
	}
	awayObj := s.objectIn(t, awayBucket, s3Key)
	if sha256hex(awayObj) != layer.SHA256 {
		t.Errorf("the copy's sha256 is %s, the build's %s", sha256hex(awayObj), layer.SHA256)
	}
	for _, req := range s.rec.Requests() {
		if req.Method == "GET" && strings.HasSuffix(req.Path, ".zip") {
			t.Errorf("copy downloaded the zip: %s %s", req.Method, req.Path)
		}
	}

	// The SBOM goes with the zip, and the copy's report names it there:
	// the same report a build uploading to that bucket would store, so
	// such a build finds the artifact and builds nothing.
	sbomKey := strings.TrimSuffix(s3Key, ".zip") + upload.SBOMSuffix
	if layer.SBOM == nil || copied.SBOM == nil {
		t.Fatalf("sbom: built %+v, copied %+v; want both", layer.SBOM, copied.SBOM)
	}
	if got := s.objectIn(t, awayBucket, sbomKey); sha256hex(got) != layer.SBOM.SHA256 {
		t.Errorf("the SBOM beside the copy has sha256 %s, the build's %s", sha256hex(got), layer.SBOM.SHA256)
	}
	if want := "s3://" + awayBucket + "/" + sbomKey; copied.SBOM.S3 != want || copied.SBOM.SHA256 != layer.SBOM.SHA256 {
		t.Errorf("copy's sbom = %+v, want %s with sha256 %s", copied.SBOM, want, layer.SBOM.SHA256)
	}
	if copied.Licenses != layer.Licenses || copied.Licenses == "" {
		t.Errorf("copy's licenses %q, want the build's %q", copied.Licenses, layer.Licenses)
	}
	t.Run("a build in the copy's bucket finds it", func(t *testing.T) {
		t.Setenv("AWS_REGION", away)
		b := lambdapack(append([]string{"layer"}, append(target, "--no-index", "--find-links", dir, "--cache", t.TempDir(),
			"--out", filepath.Join(t.TempDir(), "layer.zip"), "--upload", dest)...)...)
		if b.code != 0 {
			t.Fatalf("layer --upload %s: exit %d\n%s", dest, b.code, b.stderr)
		}
		if u := decodeUploaded(t, b); u.S3 == nil || !u.S3.BuildSkipped || u.SBOM == nil || u.SBOM.S3 != copied.SBOM.S3 {
			t.Errorf("layer --upload %s = s3 %+v sbom %+v, want the copy found and the build skipped\n%s", dest, u.S3, u.SBOM, b.stderr)
		}
	})

	again := lambdapack("copy", "--build-key", key, "--from", home, "--from-region", "us-east-1", "--to", dest)
	if again.code != 0 {
		t.Fatalf("second copy: exit %d\n%s", again.code, again.stderr)
	}
	if u := decodeUploaded(t, again); u.S3 == nil || !u.S3.Reused || u.S3.CopiedFrom != "" || !strings.Contains(again.stderr, "nothing copied") {
		t.Errorf("second copy = %+v (%s), want the copy reused", u.S3, again.stderr)
	}

	// A key that was not built there is a failed copy (exit 1), naming it.
	other := strings.Repeat("0", 64)
	miss := lambdapack("copy", "--build-key", other, "--from", "s3://"+s.bucket+"/layers/x/"+other+".zip", "--from-region", "us-east-1",
		"--to", "s3://"+awayBucket+"/layers/x/"+other+".zip")
	if miss.code != 1 || !strings.Contains(miss.stderr, "holds no artifact built from key "+other) || miss.stdout != "" {
		t.Errorf("copy of nothing: exit %d stdout %q stderr %s; want exit 1 naming the key", miss.code, miss.stdout, miss.stderr)
	}
}

// objectIn returns an object's bytes from any bucket of the server.
func (s *s3Moto) objectIn(t *testing.T, bucket, key string) []byte {
	t.Helper()
	saved := s.bucket
	s.bucket = bucket
	defer func() { s.bucket = saved }()
	return s.object(t, key)
}

func TestCopyUsage(t *testing.T) {
	key := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no build key", []string{"--from", "s3://a-bucket/k.zip", "--to", "s3://b-bucket/k.zip"}, "--build-key is required"},
		{"bad build key", []string{"--build-key", "ABC", "--from", "s3://a-bucket/k.zip", "--to", "s3://b-bucket/k.zip"}, "64 lowercase hex"},
		{"no source", []string{"--build-key", key, "--to", "s3://b-bucket/k.zip"}, "--from is required"},
		{"no destination", []string{"--build-key", key, "--from", "s3://a-bucket/k.zip"}, "--to is required"},
		{"bad URI", []string{"--build-key", key, "--from", "s3://A/k.zip", "--to", "s3://b-bucket/k.zip"}, "bucket name"},
		{"same object", []string{"--build-key", key, "--from", "s3://a-bucket/k.zip", "--to", "s3://a-bucket/k.zip"}, "same object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := lambdapack(append([]string{"copy"}, tc.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d stderr %q; want exit 2 saying %q", r.code, r.stderr, tc.want)
			}
		})
	}
	r := lambdapack("copy", "-h")
	if r.code != 0 || !bytes.Contains([]byte(r.stderr), []byte("--from-region")) {
		t.Errorf("copy -h: exit %d, %s", r.code, r.stderr)
	}
	if r := lambdapack("help"); !strings.Contains(r.stderr, "copy") {
		t.Errorf("lambdapack help does not list copy:\n%s", r.stderr)
	}
}
