package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// verify prints the live layer's license summary and checks its SBOM
// describes the version: a real layer built and uploaded with its SBOM,
// published from S3 with the report's licenses, on moto_server.
func TestVerifyLicensesAndSBOM(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	fx := newLambdaFixture(t)
	build := func(name string, lock string) uploaded {
		t.Helper()
		key := "layers/" + name + "/" + name + ".zip"
		r := lambdapack("layer", "--lock", lock, "--runtime", "python3.11", "--arch", arch(t), "--no-bytecode", "--name", name,
			"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", filepath.Join(t.TempDir(), "l.zip"), "--upload", "s3://"+s.bucket+"/"+key)
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		return decodeUploaded(t, r)
	}
	publish := func(name string, u uploaded, licenseInfo string) string {
		t.Helper()
		out, err := fx.lambda.PublishLayerVersion(fx.ctx, &lambda.PublishLayerVersionInput{
			LayerName:          aws.String(name),
			Content:            &ltypes.LayerVersionContentInput{S3Bucket: aws.String(u.S3.Bucket), S3Key: aws.String(u.S3.Key)},
			CompatibleRuntimes: []ltypes.Runtime{ltypes.RuntimePython311},
			LicenseInfo:        optionalString(licenseInfo),
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.LayerVersionArn)
	}
	layer := build("image", w.lock)
	smaller := filepath.Join(t.TempDir(), "requirements.txt")
	w.writeLock(t, smaller, func(s string) string { return s[:strings.Index(s, "PurePkg==")] })
	other := build("other", smaller)

	// Three layers, so each checked version is its layer's newest.
	v1 := publish("galerly-a", layer, layer.Licenses)
	v2 := publish("galerly-b", layer, "see "+layer.SBOM.S3)
	v3 := publish("galerly-c", layer, "")
	for i, v := range []string{v1, v2, v3} {
		fx.createFunction(fnSpec{name: "api-" + string(rune('a'+i)), runtime: ltypes.RuntimePython311, layers: []string{v}, alias: true})
	}
	if layer.Licenses == "" {
		t.Fatal("the layer's report states no licenses")
	}
	cases := []struct {
		name  string
		args  []string
		code  int
		lines []string
	}{
		{"licenses and --sbom", []string{"--function", "api-a", "--expect-layer", v1, "--sbom", layer.SBOM.S3}, 0, []string{
			"ok   licenses: layer version 1 states " + layer.Licenses,
			"ok   sbom: " + layer.SBOM.S3 + " describes layer version 1 (zip sha256 " + layer.SHA256 + "; 4 wheels, 0 vendored libraries; CycloneDX 1.6; found from --sbom)",
		}},
		{"the SBOM from LicenseInfo", []string{"--function", "api-b", "--expect-layer", v2}, 0, []string{
			"ok   licenses: layer version 1 states see " + layer.SBOM.S3,
			"ok   sbom: " + layer.SBOM.S3 + " describes layer version 1 (zip sha256 " + layer.SHA256,
		}},
		{"another layer's SBOM", []string{"--function", "api-a", "--expect-layer", v1, "--sbom", other.SBOM.S3}, 1, []string{
			"FAIL sbom: " + other.SBOM.S3 + " describes a zip with sha256 " + other.SHA256 + ", layer version 1's is " + layer.SHA256,
		}},
		{"no license, no SBOM location", []string{"--function", "api-c", "--expect-layer", v3}, 0, []string{
			"skip licenses: layer version 1 states no license",
			"skip sbom: no SBOM location known: pass --sbom",
		}},
		{"an SBOM that is not there", []string{"--function", "api-c", "--expect-layer", v3, "--sbom", "s3://" + s.bucket + "/layers/missing.cdx.json"}, 0, []string{
			"skip sbom: s3://" + s.bucket + "/layers/missing.cdx.json (from --sbom) is not reachable",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := lambdapack(append([]string{"verify"}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, want := range tc.lines {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("no line %q in:\n%s", want, r.stdout)
				}
			}
		})
	}
	if r := lambdapack("verify", "--function", "api-a", "--expect-layer", v1, "--sbom", "https://x/y.json"); r.code != exitUsage {
		t.Errorf("--sbom https://...: exit %d, want %d", r.code, exitUsage)
	}
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
