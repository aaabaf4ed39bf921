package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// The function's build step, as the program declares it, run for real:
// the exact command line and environment from the program, run by a shell
// in a project folder, with the real lambdapack, uploading to a
// moto_server on 127.0.0.1. The function's own lock is left out so the
// build needs no index; everything else is the prod stack's.
func TestFunctionBuildStepRuns(t *testing.T) {
	moto := testenv.StartMoto(t)
	moto.Setenv(t)
	awsCfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s3c := awsconfig.NewS3(awsCfg)
	const bucket = "galerly-artifacts-e2e"
	if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	lambdapack := buildLambdapack(t)

	root := copyProjectWith(t, nil)
	cfg := stackConfig(t, "prod")
	cfg[project+":artifactsBucket"] = bucket
	cfg[project+":buildEndpointUrl"] = moto.Endpoint
	cfg[project+":functionLock"] = ""
	m := mustRun(t, run{config: cfg, root: root})
	step := m.find(t, typeCommand, apiName+"-build")
	code := strList(t, step, "triggers")[0]
	create := strValue(t, step, "create")
	if !strings.Contains(create, "go run ./build/cmd/lambdapack function ") {
		t.Fatalf("create = %s, want a go run of lambdapack function", create)
	}
	// The project folder here has no Go module; the binary is the same
	// program `go run` would build.
	create = strings.Replace(create, "go run ./build/cmd/lambdapack", lambdapack, 1)
	var env []string
	for k, v := range step.Inputs["environment"].ObjectValue() {
		env = append(env, string(k)+"="+v.StringValue())
	}
	s3Key := "functions/" + apiName + "/" + code + ".zip"

	runStep := func(t *testing.T, extraEnv ...string) (stdout, stderr string, err error) {
		t.Helper()
		cmd := exec.Command("/bin/sh", "-c", create)
		cmd.Dir = filepath.Join(root, strValue(t, step, "dir"))
		// Credentials and no developer AWS setup from moto's environment,
		// then what the program put in the step's environment.
		cmd.Env = append(append(append(os.Environ(), moto.Env()...), env...), extraEnv...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		return out.String(), errOut.String(), err
	}

	for i, wantReused := range []bool{false, true} {
		stdout, stderr, err := runStep(t)
		if err != nil {
			t.Fatalf("run %d: build step failed: %v\n%s", i+1, err, stderr)
		}
		// The program reads the report as it does in an update: the
		// builder must report the code key the program computed.
		n, err := reportedUnzippedBytes("function build step", stdout, code)
		if err != nil {
			t.Fatal(err)
		}
		if n <= 0 {
			t.Errorf("run %d: unzippedBytes = %d", i+1, n)
		}
		var rep struct {
			S3 struct {
				Bucket, Key string
				Reused      bool
			}
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.S3.Bucket != bucket || rep.S3.Key != s3Key || rep.S3.Reused != wantReused {
			t.Errorf("run %d: s3 = %+v, want %s/%s reused=%v", i+1, rep.S3, bucket, s3Key, wantReused)
		}
	}
	if _, err := os.Stat(filepath.Join(root, ".lambdapack", "function-"+apiName+"-"+code+".zip")); err != nil {
		t.Errorf("the zip is not where the command says: %v", err)
	}
	if _, err := s3c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3Key)}); err != nil {
		t.Errorf("HEAD %s: %v; want the uploaded package where the function's s3Key points", s3Key, err)
	}

	t.Run("over the limit with the layer", func(t *testing.T) {
		_, stderr, err := runStep(t, fmt.Sprintf("%s=%d", layerSizeVar, target.MaxUnzippedBytes))
		if err == nil {
			t.Fatal("the build accepted a package that does not fit beside the layer")
		}
		if !strings.Contains(stderr, "over Lambda's limit") {
			t.Errorf("stderr does not explain the limit:\n%s", stderr)
		}
	})
}

// buildLambdapack builds the CLI from this checkout and returns its path.
func buildLambdapack(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lambdapack")
	cmd := exec.Command("go", "build", "-o", bin, "./build/cmd/lambdapack")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./build/cmd/lambdapack: %v\n%s", err, out)
	}
	return bin
}
