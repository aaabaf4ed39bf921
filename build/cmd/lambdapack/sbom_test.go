package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/internal/cdxschema"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/build/upload"
)

// Three builds of one lock with --sbom, each from a cold cache, in its own
// folder, with another umask, TZ and TMPDIR (and one from an index, two
// from a find-links folder), write byte-identical SBOMs; the one from the
// index names each wheel's URL, without the sha256 fragment.
func TestLayerSBOMIsByteReproducible(t *testing.T) {
	w := newWheelhouse(t)
	ix := wheeltest.ServeIndex(t, w.wheels, wheeltest.JSON)
	common := []string{"--runtime", "python3.11", "--runtime", "python3.12", "--arch", arch(t), "--no-bytecode", "--name", "galerly-image-processing"}
	runs := []struct {
		umask, tz string
		source    []string
	}{
		{"022", "UTC", []string{"--index-url", ix.URL}},
		{"077", "Pacific/Auckland", []string{"--index-url", ix.URL}},
		{"002", "America/Los_Angeles", []string{"--no-index", "--find-links", w.dir}},
		{"027", "Asia/Kolkata", []string{"--no-index", "--find-links", w.dir}},
	}
	var docs [][]byte
	for i, run := range runs {
		dir := t.TempDir()
		t.Setenv("TMPDIR", t.TempDir())
		args := append([]string{"layer", "--lock", w.lock, "--out", "out.zip", "--sbom", "out.cdx.json", "--cache", filepath.Join(dir, "cache")}, common...)
		r := lambdapackProcess(t, dir, run.umask, run.tz, append(args, run.source...)...)
		if r.code != 0 {
			t.Fatalf("build %d failed: %s", i, r.stderr)
		}
		var res build.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		doc := readFile(t, filepath.Join(dir, "out.cdx.json"))
		if res.SBOM == nil || res.SBOM.File != "out.cdx.json" || res.SBOM.SHA256 != sha256hex(doc) || res.SBOM.SpecVersion != "1.6" {
			t.Errorf("build %d: report's sbom %+v does not describe the file", i, res.SBOM)
		}
		docs = append(docs, doc)
	}
	cdxschema.Validate(t, docs[0], "1.6")
	if !bytes.Equal(docs[0], docs[1]) {
		t.Errorf("two builds from the index, umask/TZ/TMPDIR apart, wrote different SBOMs:\n%s\n---\n%s", docs[0], docs[1])
	}
	if !bytes.Equal(docs[2], docs[3]) {
		t.Error("two builds from a find-links folder wrote different SBOMs")
	}
	host := ix.URL[:strings.Index(ix.URL[len("http://"):], "/")+len("http://")]
	if !bytes.Contains(docs[0], []byte(`"url": "`+host+"/files/tinyext-1.0-cp311-cp311-manylinux2014_x86_64.whl\"")) || bytes.Contains(docs[0], []byte("#sha256=")) {
		t.Errorf("the SBOM built from the index does not name its URLs (or keeps their fragment):\n%s", docs[0])
	}
	if bytes.Contains(docs[2], []byte(`"distribution"`)) || bytes.Contains(docs[2], []byte(w.dir)) {
		t.Error("the SBOM built from a local folder names a local path")
	}
}

// --sbom-spec switches the file between CycloneDX 1.6 and 1.5; both
// validate; misuse is exit 2 before anything is built.
func TestLayerSBOMSpecSwitch(t *testing.T) {
	w := newWheelhouse(t)
	cache := t.TempDir()
	base := []string{"--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t), "--no-bytecode", "--no-index", "--find-links", w.dir, "--cache", cache}
	for _, spec := range []string{"1.6", "1.5"} {
		dir := t.TempDir()
		sbomPath := filepath.Join(dir, "layer.cdx.json")
		res, r := buildLayer(t, append(base, "--out", filepath.Join(dir, "layer.zip"), "--sbom", sbomPath, "--sbom-spec", spec)...)
		if r.code != 0 {
			t.Fatalf("--sbom-spec %s: %s", spec, r.stderr)
		}
		doc := readFile(t, sbomPath)
		cdxschema.Validate(t, doc, spec)
		if !bytes.Contains(doc, []byte(`"specVersion": "`+spec+`"`)) || string(res.SBOM.SpecVersion) != spec {
			t.Errorf("--sbom-spec %s wrote %.200s (report: %+v)", spec, doc, res.SBOM)
		}
	}
	out := filepath.Join(t.TempDir(), "x.zip")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sbom-spec", "1.5"}, "give --sbom FILE"},
		{[]string{"--sbom", out + ".json", "--sbom-spec", "1.4"}, "want 1.5 or 1.6"},
		{[]string{"--sbom", out + ".json", "--sbom-spec", "1.5", "--upload", "s3://bucket-x/k.zip"}, "with --upload"},
		{[]string{"--sbom", out}, "are the same file"},
		{[]string{"--sbom", w.lock}, "is the lock"},
		{[]string{"--sbom", filepath.Join(t.TempDir(), "no", "x.json")}, "does not exist"},
	} {
		r := lambdapack(append(append([]string{"layer"}, base...), append([]string{"--out", out}, tc.args...)...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s", tc.args, r.code, exitUsage, tc.want, r.stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a usage error wrote %s", out)
	}
}

// A build that fails leaves neither the zip nor the SBOM.
func TestLayerSBOMFailedBuildLeavesNothing(t *testing.T) {
	w := newWheelhouse(t)
	dir := t.TempDir()
	out, sbomPath := filepath.Join(dir, "layer.zip"), filepath.Join(dir, "layer.cdx.json")
	_, r := buildLayer(t, "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t), "--no-bytecode", "--max-unzipped", "1000",
		"--no-index", "--find-links", w.dir, "--cache", t.TempDir(), "--out", out, "--sbom", sbomPath)
	if r.code != exitFail {
		t.Fatalf("exit %d, want %d: %s", r.code, exitFail, r.stderr)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a failed build left %v", left)
	}
}

// With --upload the SBOM is stored beside the zip as KEY.cdx.json and the
// stored report names it (but not the local file); a second run that
// skips the build writes --sbom from S3, the same bytes; a different SBOM
// already stored there is refused, and nothing else is written.
func TestLayerSBOMSidecar(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	keyRun := lambdapack("key", "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t), "--no-bytecode")
	if keyRun.code != 0 {
		t.Fatal(keyRun.stderr)
	}
	layerKey := strings.TrimSpace(keyRun.stdout)
	zipKey := "layers/galerly-image-processing/" + layerKey + ".zip"
	sbomKey := "layers/galerly-image-processing/" + layerKey + ".cdx.json"
	args := func(findLinks, sbomPath string) []string {
		dir := t.TempDir()
		a := []string{"layer", "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t), "--no-bytecode", "--name", "galerly-image-processing",
			"--no-index", "--find-links", findLinks, "--cache", t.TempDir(), "--out", filepath.Join(dir, "layer.zip"), "--upload", "s3://" + s.bucket + "/" + zipKey}
		if sbomPath != "" {
			a = append(a, "--sbom", sbomPath)
		}
		return a
	}
	local := filepath.Join(t.TempDir(), "first.cdx.json")
	r := lambdapack(args(w.dir, local)...)
	if r.code != 0 {
		t.Fatalf("layer --upload: %s", r.stderr)
	}
	first := decodeUploaded(t, r)
	wantURI := "s3://" + s.bucket + "/" + sbomKey
	if first.SBOM == nil || first.SBOM.S3 != wantURI || first.SBOM.File != local || first.SBOM.SHA256 != sha256hex(readFile(t, local)) {
		t.Fatalf("report's sbom = %+v, want %s and %s", first.SBOM, wantURI, local)
	}
	stored := s.object(t, sbomKey)
	if !bytes.Equal(stored, readFile(t, local)) {
		t.Error("the stored SBOM is not the one written locally")
	}
	head, err := s.direct.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(sbomKey)})
	if err != nil || aws.ToString(head.ContentType) != "application/vnd.cyclonedx+json" {
		t.Errorf("the SBOM's content type: %v %v", head, err)
	}
	var report build.Result
	if err := json.Unmarshal(s.object(t, zipKey+upload.ReportSuffix), &report); err != nil {
		t.Fatal(err)
	}
	if report.SBOM == nil || report.SBOM.S3 != wantURI || report.SBOM.File != "" || report.Licenses != first.Licenses {
		t.Errorf("the stored report's sbom = %+v, licenses %q: want the S3 URI, no local path", report.SBOM, report.Licenses)
	}

	// A fresh runner: nothing to build from; the SBOM comes from S3.
	again := filepath.Join(t.TempDir(), "again.cdx.json")
	s.rec.Reset()
	r = lambdapack(args(t.TempDir(), again)...)
	if r.code != 0 {
		t.Fatalf("second run: %s", r.stderr)
	}
	second := decodeUploaded(t, r)
	if second.S3 == nil || !second.S3.BuildSkipped || second.SBOM == nil || second.SBOM.File != again || second.SBOM.S3 != wantURI {
		t.Errorf("second run: s3 %+v, sbom %+v; want the build skipped and the SBOM written from S3", second.S3, second.SBOM)
	}
	if !bytes.Equal(readFile(t, again), stored) {
		t.Error("the SBOM written from S3 differs from the stored one")
	}
	if p := s.puts(); len(p) != 0 {
		t.Errorf("the second run wrote %v", p)
	}
	var sbomReads []string
	for _, q := range s.rec.Requests() {
		if strings.HasSuffix(q.Path, sbomKey) {
			sbomReads = append(sbomReads, q.Method)
		}
	}
	if !slices.Equal(sbomReads, []string{http.MethodGet}) {
		t.Errorf("the second run asked S3 for the SBOM with %v; want one GET (reading it shows it is there)", sbomReads)
	}

	// The same artifact under another name: its SBOM would differ, so it
	// is refused before the report or the zip is written.
	otherKey := "layers/renamed/" + layerKey + ".zip"
	if _, err := s.direct.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.bucket),
		Key: aws.String("layers/renamed/" + layerKey + ".cdx.json"), Body: bytes.NewReader([]byte(`{"bomFormat":"CycloneDX"}`))}); err != nil {
		t.Fatal(err)
	}
	a := args(w.dir, "")
	a[len(a)-1] = "s3://" + s.bucket + "/" + otherKey
	r = lambdapack(a...)
	if r.code != exitFail || !strings.Contains(r.stderr, "layers/renamed/"+layerKey+".cdx.json already holds a different object") ||
		!strings.Contains(r.stderr, "SBOM") {
		t.Errorf("a different stored SBOM: exit %d:\n%s", r.code, r.stderr)
	}
	for _, k := range []string{otherKey, otherKey + upload.ReportSuffix} {
		if _, err := s.direct.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)}); err == nil {
			t.Errorf("%s was written after the SBOM was refused", k)
		}
	}
}

// An artifact stored by a lambdapack from before SBOMs (a report with no
// sbom) is built again, so its SBOM is stored and the report printed has
// its licenses; the zip is reused, not sent.
func TestLayerSBOMAfterOldReport(t *testing.T) {
	w := newWheelhouse(t)
	s := newS3Moto(t)
	uri := "s3://" + s.bucket + "/layers/x/old.zip"
	base := []string{"layer", "--lock", w.lock, "--runtime", "python3.11", "--arch", arch(t), "--no-bytecode", "--no-index", "--find-links", w.dir, "--cache", t.TempDir()}
	r := lambdapack(append(base, "--out", filepath.Join(t.TempDir(), "a.zip"), "--upload", uri)...)
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	// What the old lambdapack stored: the same zip, a report without
	// licenses or sbom (the zip's metadata names the report's sha256, so
	// the bucket is made again from scratch with such a report).
	zipBytes := s.object(t, "layers/x/old.zip")
	var rep map[string]any
	json.Unmarshal(s.object(t, "layers/x/old.zip"+upload.ReportSuffix), &rep)
	for _, k := range []string{"sbom", "licenses", "licenseConcerns"} {
		delete(rep, k)
	}
	oldReport, _ := json.Marshal(rep)
	s2 := newS3Moto(t)
	ctx := context.Background()
	if _, err := upload.UploadArtifact(ctx, s2.direct, upload.Location{Bucket: s2.bucket, Key: "layers/x/old.zip"}, upload.Artifact{
		Path: writeTemp(t, zipBytes), SHA256: sha256hex(zipBytes), BuildKey: rep["key"].(string), Report: oldReport,
	}, upload.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	r = lambdapack(append(base, "--out", filepath.Join(t.TempDir(), "b.zip"), "--upload", "s3://"+s2.bucket+"/layers/x/old.zip")...)
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	u := decodeUploaded(t, r)
	if !strings.Contains(r.stderr, "names no SBOM") || u.S3.BuildSkipped || !u.S3.Reused || u.SBOM == nil || u.SBOM.S3 == "" {
		t.Errorf("s3 %+v, sbom %+v; stderr:\n%s", u.S3, u.SBOM, r.stderr)
	}
	if got := s2.object(t, "layers/x/old.cdx.json"); sha256hex(got) != u.SBOM.SHA256 {
		t.Error("the SBOM was not stored")
	}
	for _, p := range s2.puts() {
		if strings.HasSuffix(p, ".zip") {
			t.Errorf("the zip was sent again: %s", p)
		}
	}
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
