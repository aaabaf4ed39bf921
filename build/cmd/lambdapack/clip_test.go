package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// Every flag, argument and command name, given a value a megabyte long,
// ends in an error whose message quotes it clipped (or not at all): from
// the flag package, from the command's own checks, and from the build,
// the lock reader, the index and the AWS clients below it.
func TestOversizedArgumentsAreClipped(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	dir := t.TempDir()
	hugePath := filepath.Join(dir, huge)
	wheel, _, lockPath := pureLock(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "app.py"), []byte("X = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(t.TempDir(), "layer.zip")
	if err := os.WriteFile(zipPath, zipOf(t, "python/m.py", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	python := testenv.FindPython(t, "3.12")
	testenv.SetenvAll(t, testenv.EndpointEnv(silentURL(t)))
	out := filepath.Join(t.TempDir(), "out.zip")
	target := []string{"--runtime", "python3.12", "--arch", "x86_64"}
	layer := func(extra ...string) []string {
		return append(append([]string{"layer", "--lock", lockPath, "--out", out, "--no-bytecode", "--timeout", "5s"}, target...), extra...)
	}
	function := func(extra ...string) []string {
		return append(append([]string{"function", "--src", src, "--out", out, "--no-bytecode", "--timeout", "5s"}, target...), extra...)
	}
	test := func(extra ...string) []string {
		return append([]string{"test", "--zip", zipPath, "--python", python, "--import", "m"}, extra...)
	}
	verify := func(extra ...string) []string {
		return append([]string{"verify", "--function", "f", "--expect-layer", "arn:aws:lambda:us-east-1:123456789012:layer:l:1", "--timeout", "1s"}, extra...)
	}
	copyArgs := func(extra ...string) []string {
		return append([]string{"copy", "--build-key", strings.Repeat("0", 64), "--from", "s3://bucket-a/k.zip", "--to", "s3://bucket-b/k.zip", "--timeout", "5s"}, extra...)
	}
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"command", []string{huge}, exitUsage},
		{"unknown flag", []string{"key", "--" + huge}, exitUsage},
		{"key --lock", append([]string{"key", "--lock", hugePath}, target...), exitFail},
		{"key --runtime", []string{"key", "--lock", lockPath, "--runtime", huge, "--arch", "x86_64"}, exitUsage},
		{"key --arch", []string{"key", "--lock", lockPath, "--runtime", "python3.12", "--arch", huge}, exitUsage},
		{"key --extra", append([]string{"key", "--lock", lockPath, "--extra", huge}, target...), exitUsage},
		{"key argument", append([]string{"key", "--lock", lockPath, huge}, target...), exitUsage},
		{"check --runtime", []string{"check", "--runtime", huge, "--arch", "x86_64", "a-1-py3-none-any.whl"}, exitUsage},
		{"layer --lock", append([]string{"layer", "--lock", hugePath, "--out", out}, target...), exitFail},
		{"layer --out", append([]string{"layer", "--lock", lockPath, "--out", hugePath + ".zip", "--no-index", "--find-links", filepath.Dir(wheel), "--no-bytecode", "--cache", t.TempDir()}, target...), exitFail},
		{"layer --out in a missing folder", append([]string{"layer", "--lock", lockPath, "--out", filepath.Join(hugePath, "l.zip")}, target...), exitFail},
		{"layer --index-url", layer("--index-url", "https://"+huge+"/simple/"), exitFail},
		{"layer --index-url not http", layer("--index-url", huge), exitUsage},
		{"layer --extra-index-url", layer("--extra-index-url", "ftp://"+huge), exitUsage},
		{"layer --find-links", layer("--find-links", hugePath), exitUsage},
		{"layer --cache", layer("--cache", hugePath, "--no-index", "--find-links", dir), exitFail},
		{"layer --netrc", layer("--netrc", hugePath, "--index-url", "http://127.0.0.1:9/"+huge+"/"), exitFail},
		{"layer --upload", layer("--upload", "s3://"+huge), exitUsage},
		{"layer --upload key", layer("--upload", "s3://bucket/"+huge), exitUsage},
		{"layer --timeout", layer("--timeout", huge), exitUsage},
		{"layer --python", append(layer(), "--python", huge), exitUsage},
		{"layer --python path", []string{"layer", "--lock", lockPath, "--out", out, "--runtime", "python3.12", "--arch", "x86_64", "--no-index", "--find-links", filepath.Dir(wheel), "--cache", t.TempDir(), "--python", "3.12=" + hugePath}, exitFail},
		{"layer --max-unzipped", layer("--max-unzipped", huge), exitUsage},
		{"layer --group", layer("--group", huge), exitUsage},
		{"function --src", []string{"function", "--src", hugePath, "--out", out, "--runtime", "python3.12", "--arch", "x86_64"}, exitUsage},
		{"function --lock", function("--lock", hugePath), exitFail},
		{"function --exclude", function("--exclude", huge+"[", "--cache", t.TempDir()), exitUsage},
		{"function --include", function("--include", "../"+huge), exitUsage},
		{"function --with-layer-unzipped", function("--with-layer-unzipped", huge), exitUsage},
		{"function --runtime", []string{"function", "--src", src, "--out", out, "--runtime", "python3.12", "--runtime", huge, "--arch", "x86_64"}, exitUsage},
		{"test --zip", []string{"test", "--zip", hugePath, "--python", python, "--import", "m"}, exitFail},
		{"test --python", []string{"test", "--zip", zipPath, "--python", hugePath, "--import", "m"}, exitFail},
		{"test --import", test("--import", huge+"-"), exitUsage},
		{"test --expect-bytecode", test("--expect-bytecode=" + huge), exitUsage},
		{"test --timeout", test("--timeout", huge), exitUsage},
		{"test argument", test(huge), exitUsage},
		{"verify --function", []string{"verify", "--function", huge, "--expect-layer", "arn:aws:lambda:us-east-1:123456789012:layer:l:1", "--timeout", "1s"}, exitFail},
		{"verify --expect-layer", []string{"verify", "--function", "f", "--expect-layer", huge}, exitUsage},
		{"verify --qualifier", verify("--qualifier", huge), exitFail},
		{"verify --timeout", verify("--timeout", huge), exitUsage},
		{"coldstarts --function", []string{"coldstarts", "--function", huge, "--timeout", "1s"}, exitFail},
		{"coldstarts --since", []string{"coldstarts", "--function", "f", "--since", huge}, exitUsage},
		{"copy argument", copyArgs("\t" + huge), exitUsage}, // %q would write the tab as \t, where the writer would not find the value to clip it
		{"copy --build-key", []string{"copy", "--build-key", huge, "--from", "s3://bucket-a/k.zip", "--to", "s3://bucket-b/k.zip"}, exitUsage},
		{"copy --from", []string{"copy", "--build-key", strings.Repeat("0", 64), "--from", "s3://" + huge, "--to", "s3://bucket-b/k.zip"}, exitUsage},
		{"copy --to", []string{"copy", "--build-key", strings.Repeat("0", 64), "--from", "s3://bucket-a/k.zip", "--to", "s3://bucket-b/" + huge}, exitUsage},
		{"copy --from-region", copyArgs("--from-region", huge), exitFail},
		{"coldstarts argument", []string{"coldstarts", "--function", "f", "\t" + huge}, exitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := lambdapackWithin(t, 60*time.Second, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d; stderr %.500q", r.code, c.code, r.stderr)
			}
			if len(r.stderr) > 8000 || strings.Contains(r.stderr, strings.Repeat("x", 201)) {
				t.Errorf("stderr is %d bytes and holds the value unclipped: %.500q", len(r.stderr), r.stderr)
			}
			if strings.Contains(r.stdout, strings.Repeat("x", 201)) {
				t.Errorf("stdout holds the value unclipped: %.500q", r.stdout)
			}
			noFile(t, out)
		})
	}
}
