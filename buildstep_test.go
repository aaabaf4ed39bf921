package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/build/license"
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
		// builder must report the code key the program computed, and the
		// SBOM it stored beside the package.
		got, err := readBuildReport("function build step", stdout, code)
		if err != nil {
			t.Fatal(err)
		}
		if got.UnzippedBytes <= 0 {
			t.Errorf("run %d: unzippedBytes = %d", i+1, got.UnzippedBytes)
		}
		if want := "s3://" + bucket + "/" + sbomKey(s3Key); got.SBOM.S3 != want {
			t.Errorf("run %d: sbom.s3 = %s, want %s, beside the package", i+1, got.SBOM.S3, want)
		}
		// --name names the function in its SBOM.
		doc, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(sbomKey(s3Key))})
		if err != nil {
			t.Fatalf("run %d: GET the SBOM: %v", i+1, err)
		}
		var bom struct {
			Metadata struct {
				Component struct{ Name string }
			}
		}
		err = json.NewDecoder(doc.Body).Decode(&bom)
		doc.Body.Close()
		if err != nil || bom.Metadata.Component.Name != apiName {
			t.Errorf("run %d: the SBOM's metadata.component.name = %q (%v), want the function's name %s", i+1, bom.Metadata.Component.Name, err, apiName)
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

// The program reads a build step's report from the end of its stdout: the
// key must be the program's and, as every step uploads, the SBOM stored
// beside the zip must be named; the licenses come along.
func TestReadBuildReport(t *testing.T) {
	key := strings.Repeat("ab", 32)
	sbom := `,"sbom":{"specVersion":"1.6","sha256":"` + strings.Repeat("cd", 32) + `","s3":"s3://b/layers/x/` + key + `.cdx.json"}`
	for _, tc := range []struct {
		name, stdout string
		want         buildReport
		err          string
	}{
		{"report", `{"key":"` + key + `","unzippedBytes":42,"licenses":"MIT AND BSD-3-Clause",` +
			`"licenseConcerns":[{"package":"numpy","why":"vendors 3 shared libraries"}]` + sbom + `}`,
			buildReport{Key: key, UnzippedBytes: 42, Licenses: "MIT AND BSD-3-Clause",
				LicenseConcerns: []license.Concern{{Package: "numpy", Why: "vendors 3 shared libraries"}},
				SBOM:            &reportedSBOM{S3: "s3://b/layers/x/" + key + ".cdx.json", SHA256: strings.Repeat("cd", 32)}}, ""},
		{"report after noise", "building\n{\"key\":\"" + key + "\",\"unzippedBytes\":7" + sbom + "}\n\n",
			buildReport{Key: key, UnzippedBytes: 7, SBOM: &reportedSBOM{S3: "s3://b/layers/x/" + key + ".cdx.json", SHA256: strings.Repeat("cd", 32)}}, ""},
		{"not json", "done", buildReport{}, "JSON report"},
		{"empty", "", buildReport{}, "JSON report"},
		{"other key", `{"key":"cd","unzippedBytes":1` + sbom + `}`, buildReport{}, "disagree"},
		{"no SBOM", `{"key":"` + key + `","unzippedBytes":1}`, buildReport{}, "layer build step x-build: lambdapack's report names no SBOM"},
		{"an SBOM written, not stored", `{"key":"` + key + `","unzippedBytes":1,"sbom":{"specVersion":"1.6","sha256":"00","file":"x.cdx.json"}}`,
			buildReport{}, "names no SBOM stored beside the upload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBuildReport("layer build step x-build", tc.stdout, key)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, &tc.want) {
				t.Errorf("= %+v %+v\nwant %+v %+v", *got, got.SBOM, tc.want, tc.want.SBOM)
			}
		})
	}
}
