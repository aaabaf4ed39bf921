package awsconfig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// isolate points the SDK at endpoint with the test credentials and none of
// the developer's AWS setup.
func isolate(t *testing.T, endpoint string) {
	testenv.SetenvAll(t, testenv.EndpointEnv(endpoint))
}

func TestLoadRefusesNoRegion(t *testing.T) {
	isolate(t, "http://127.0.0.1:1")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	_, err := Load(context.Background())
	if !errors.Is(err, ErrNoRegion) {
		t.Fatalf("Load() = %v, want ErrNoRegion", err)
	}
	if !strings.Contains(err.Error(), "AWS_REGION") {
		t.Errorf("error %q does not say how to set a region", err)
	}
}

func TestLoadRefusesNoCredentials(t *testing.T) {
	isolate(t, "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	_, err := Load(context.Background())
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("Load() = %v, want ErrNoCredentials", err)
	}
	for _, want := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// A profile in the shared files is what most engineers use: its region and
// keys are found through AWS_PROFILE.
func TestLoadReadsAProfile(t *testing.T) {
	isolate(t, "http://127.0.0.1:1")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	credFile := filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfgFile, []byte("[profile deploy]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(credFile, []byte("[deploy]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	t.Setenv("AWS_PROFILE", "deploy")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("region %q, want eu-west-1 from the profile", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKIDPROFILE" {
		t.Errorf("credentials %q, %v; want the profile's AKIDPROFILE", creds.AccessKeyID, err)
	}
}

func TestLoadNamesAMissingProfile(t *testing.T) {
	isolate(t, "http://127.0.0.1:1")
	t.Setenv("AWS_PROFILE", "nosuchprofile")
	_, err := Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nosuchprofile") {
		t.Fatalf("Load() = %v, want an error naming the profile", err)
	}
}

// Path-style addressing follows a configured endpoint, general or S3's
// own, and AWS's endpoints keep virtual-hosted names.
func TestNewS3PathStyleWithAnEndpoint(t *testing.T) {
	cases := []struct {
		name          string
		general, s3   string
		wantPathStyle bool
		wantEndpoint  string
	}{
		{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000", "", true, "http://127.0.0.1:9000"},
		{"AWS_ENDPOINT_URL_S3", "", "http://127.0.0.1:9001", true, "http://127.0.0.1:9001"},
		{"both: S3's wins", "http://127.0.0.1:9000", "http://127.0.0.1:9001", true, "http://127.0.0.1:9001"},
		{"none: AWS", "", "", false, "AWS S3 in us-east-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			isolate(t, c.general)
			t.Setenv("AWS_ENDPOINT_URL_S3", c.s3)
			cfg, err := Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			cl := NewS3(cfg)
			if got := cl.Options().UsePathStyle; got != c.wantPathStyle {
				t.Errorf("UsePathStyle = %v, want %v", got, c.wantPathStyle)
			}
			if got := S3Endpoint(cl); got != c.wantEndpoint {
				t.Errorf("S3Endpoint = %q, want %q", got, c.wantEndpoint)
			}
		})
	}
}

func TestNewLambdaEndpoint(t *testing.T) {
	isolate(t, "http://127.0.0.1:9000")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9002")
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := LambdaEndpoint(NewLambda(cfg)); got != "http://127.0.0.1:9002" {
		t.Errorf("LambdaEndpoint = %q, want AWS_ENDPOINT_URL_LAMBDA's", got)
	}
}

// Against a real S3 API on 127.0.0.1 a bucket round-trips: with
// virtual-hosted addressing the SDK would have asked for
// BUCKET.127.0.0.1, which does not resolve.
func TestS3AgainstMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	m.Setenv(t)
	ctx := context.Background()
	cfg, err := Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cl := NewS3(cfg)
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("awsconfig-test")}); err != nil {
		t.Fatal(err)
	}
	out, err := cl.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "awsconfig-test" {
		t.Errorf("ListBuckets = %+v, want awsconfig-test", out.Buckets)
	}
}
