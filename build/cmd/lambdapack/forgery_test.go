package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/build/upload"
)

// An object under the layer's key whose metadata claims the layer's sha256
// (and, with a forged report, its build key and report) but whose bytes
// are others is never reused and never overwritten: whether or not the
// stored report is the genuine one, and whatever the object's size, the
// upload fails with the conflict error naming both sha256s.
func TestUploadRefusesForgedObjects(t *testing.T) {
	wheel, _, lockPath := pureLock(t)
	s := newS3Moto(t)
	layerArgs := []string{"--lock", lockPath, "--runtime", "python3.12", "--arch", "x86_64",
		"--no-index", "--find-links", filepath.Dir(wheel), "--cache", t.TempDir()}
	out := filepath.Join(t.TempDir(), "layer.zip")
	res, r := buildLayer(t, append(layerArgs, "--out", out)...)
	if r.code != 0 {
		t.Fatalf("layer: %s", r.stderr)
	}
	genuine := readFile(t, out)
	report, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	report = append(report, '\n') // as buildAndPublish stores it

	cases := []struct {
		name       string
		forged     []byte
		withReport bool
	}{
		{"same size", bytes.Repeat([]byte("F"), len(genuine)), false},
		{"different size", []byte("8 bytes!"), false},
		{"same size, with the report", bytes.Repeat([]byte("F"), len(genuine)), true},
		{"different size, with the report", []byte("8 bytes!"), true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "layers/forged" + string(rune('a'+i)) + "/" + res.Key + ".zip"
			meta := map[string]string{upload.MetaSHA256: res.SHA256}
			ctx := context.Background()
			if c.withReport {
				// The genuine report, and the metadata that ties a zip to
				// it, copied from a real upload.
				meta[upload.MetaBuildKey] = res.Key
				meta[upload.MetaReportSHA256] = sha256hex(report)
				if _, err := s.direct.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(s.bucket), Key: aws.String(key + upload.ReportSuffix), Body: bytes.NewReader(report),
				}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.direct.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(c.forged), Metadata: meta,
			}); err != nil {
				t.Fatal(err)
			}
			s.rec.Reset()
			uri := "s3://" + s.bucket + "/" + key
			r := lambdapack(append([]string{"layer"}, append(layerArgs, "--out", filepath.Join(t.TempDir(), "layer.zip"), "--upload", uri)...)...)
			if r.code != exitFail || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q; want %d and no report\n%s", r.code, r.stdout, exitFail, r.stderr)
			}
			for _, w := range []string{uri + " already holds a different object", res.SHA256, "metadata claims sha256 " + res.SHA256, "never overwrites"} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if len(c.forged) == len(genuine) && !strings.Contains(r.stderr, sha256hex(c.forged)) {
				t.Errorf("stderr does not name the stored object's sha256 %s:\n%s", sha256hex(c.forged), r.stderr)
			}
			if c.withReport && !strings.Contains(r.stderr, "not using the report stored") && !strings.Contains(r.stderr, "not reusing") {
				t.Errorf("stderr does not say why the stored report was not used:\n%s", r.stderr)
			}
			if p := s.puts(); len(p) != 0 {
				t.Errorf("wrote %v", p)
			}
			if got := s.object(t, key); !bytes.Equal(got, c.forged) {
				t.Error("the stored object changed")
			}
		})
	}
}
