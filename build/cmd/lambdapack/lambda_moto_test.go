package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/galerly/galerly-lambda/build/awsconfig"
)

// What `pulumi up` does with the artifacts, through the real Lambda and IAM
// APIs of the same moto_server the CLI uploaded to: publish a layer version
// from the uploaded layer key, create a function from the uploaded code
// with that layer, and read the function's configuration back.
func TestUploadedArtifactsDeployThroughLambdaAPI(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	ctx := context.Background()
	a := arch(t)
	lambdaArch := ltypes.ArchitectureX8664
	if a == "arm64" {
		lambdaArch = ltypes.ArchitectureArm64
	}

	layerOut := filepath.Join(t.TempDir(), "layer.zip")
	r := lambdapack("key", "--lock", w.lock, "--runtime", "python3.11", "--runtime", "python3.12", "--arch", a)
	if r.code != 0 {
		t.Fatalf("key: %s", r.stderr)
	}
	layerKey := "layers/galerly-image-processing/" + strings.TrimSpace(r.stdout) + ".zip"
	r = lambdapack("layer", "--lock", w.lock, "--runtime", "python3.11", "--runtime", "python3.12", "--arch", a,
		"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", layerOut,
		"--upload", "s3://"+s.bucket+"/"+layerKey)
	if r.code != 0 {
		t.Fatalf("layer --upload failed (%d): %s", r.code, r.stderr)
	}
	layer := decodeUploaded(t, r)

	src := filepath.Join(t.TempDir(), "app")
	writeSource(t, src, 0o022, time.Now())
	fnOut := filepath.Join(t.TempDir(), "function.zip")
	codeKey := "functions/galerly-api-test/code.zip"
	r = lambdapack("function", "--src", src, "--lock", w.lock, "--runtime", "python3.11", "--arch", a,
		"--with-layer-unzipped", strconv.FormatInt(layer.UnzippedBytes, 10),
		"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", fnOut,
		"--upload", "s3://"+s.bucket+"/"+codeKey)
	if r.code != 0 {
		t.Fatalf("function --upload failed (%d): %s", r.code, r.stderr)
	}
	fn := decodeUploaded(t, r)

	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("galerly-api-deploy-test"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	lc := awsconfig.NewLambda(cfg)
	pub, err := lc.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{
		LayerName:               aws.String("galerly-image-processing"),
		Description:             aws.String("test layer " + layer.Key),
		Content:                 &ltypes.LayerVersionContentInput{S3Bucket: aws.String(s.bucket), S3Key: aws.String(layerKey)},
		CompatibleRuntimes:      []ltypes.Runtime{ltypes.RuntimePython311, ltypes.RuntimePython312},
		CompatibleArchitectures: []ltypes.Architecture{lambdaArch},
	})
	if err != nil {
		t.Fatalf("publish layer version from %s: %v", layerKey, err)
	}
	layerArn := aws.ToString(pub.LayerVersionArn)
	if pub.Content == nil || pub.Content.CodeSize != layer.ZipBytes {
		t.Errorf("published layer content %+v, want CodeSize %d", pub.Content, layer.ZipBytes)
	}
	if got := aws.ToString(pub.Content.CodeSha256); got != b64sha(t, layer.SHA256) {
		t.Errorf("published layer CodeSha256 %s, want %s (the report's sha256, base64)", got, b64sha(t, layer.SHA256))
	}

	_, err = lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String("galerly-api-test"),
		Runtime:       ltypes.RuntimePython311,
		Handler:       aws.String("api.handler"),
		Role:          role.Role.Arn,
		Code:          &ltypes.FunctionCode{S3Bucket: aws.String(s.bucket), S3Key: aws.String(codeKey)},
		Layers:        []string{layerArn},
		Architectures: []ltypes.Architecture{lambdaArch},
		Publish:       true,
	})
	if err != nil {
		t.Fatalf("create function from %s: %v", codeKey, err)
	}
	got, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("galerly-api-test")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != 1 || aws.ToString(got.Layers[0].Arn) != layerArn {
		t.Errorf("function layers %+v, want exactly %s", got.Layers, layerArn)
	}
	if len(got.Layers) == 1 && got.Layers[0].CodeSize != layer.ZipBytes {
		t.Errorf("attached layer CodeSize %d, want %d", got.Layers[0].CodeSize, layer.ZipBytes)
	}
	if got.CodeSize != fn.ZipBytes {
		t.Errorf("function CodeSize %d, want the package's %d bytes", got.CodeSize, fn.ZipBytes)
	}
	if aws.ToString(got.CodeSha256) != b64sha(t, fn.SHA256) {
		t.Errorf("function CodeSha256 %s, want %s", aws.ToString(got.CodeSha256), b64sha(t, fn.SHA256))
	}
	if got.Runtime != ltypes.RuntimePython311 || aws.ToString(got.Handler) != "api.handler" {
		t.Errorf("function runtime %s handler %s", got.Runtime, aws.ToString(got.Handler))
	}
}

// b64sha turns a hex sha256 into the base64 form Lambda reports.
func b64sha(t *testing.T, hexsum string) string {
	t.Helper()
	raw, err := hex.DecodeString(hexsum)
	if err != nil || len(raw) != sha256.Size {
		t.Fatalf("sha256 %q is not 64 hex digits", hexsum)
	}
	return base64.StdEncoding.EncodeToString(raw)
}
