package upload

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The artifact tests share one server; each uses its own bucket.
func TestArtifactAgainstMoto(t *testing.T) {
	s := startS3(t)
	t.Run("found by its build key", func(t *testing.T) { testFoundByBuildKey(t, s) })
	t.Run("a report that does not match is ignored", func(t *testing.T) { testMismatchedReport(t, s) })
	t.Run("another report beside the zip", func(t *testing.T) { testAnotherReport(t, s) })
	t.Run("a missing report, an SBOM read back", func(t *testing.T) { testReadBack(t, s) })
}

// A zip whose report is gone is not found, and says so; an SBOM is read
// back only with the sha256 asked for, and a missing one says so.
func testReadBack(t *testing.T, s *motoS3) {
	ctx := context.Background()
	loc := Location{Bucket: s.bucket(t), Key: "layers/gone.zip"}
	key := strings.Repeat("e", 64)
	path, _, sum := artifact(t, 100)
	doc := []byte(`{"bomFormat":"CycloneDX"}`)
	a := Artifact{Path: path, SHA256: sum, BuildKey: key, Report: []byte(`{"key":"` + key + `","sha256":"` + sum + `"}`), SBOM: doc, SBOMType: "application/json"}
	if _, err := UploadArtifact(ctx, s.c, loc, a, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	sloc := SBOMLocation(loc)
	if got, why, err := ReadSBOM(ctx, s.c, sloc, sha(doc)); err != nil || why != "" || !bytes.Equal(got, doc) {
		t.Errorf("ReadSBOM = %q, %q, %v; want the SBOM", got, why, err)
	}
	if got, why, err := ReadSBOM(ctx, s.c, sloc, strings.Repeat("0", 64)); err != nil || got != nil || !strings.Contains(why, "has sha256 "+sha(doc)) {
		t.Errorf("ReadSBOM with another sha256 = %q, %q, %v; want the mismatch named", got, why, err)
	}
	if got, why, err := ReadSBOM(ctx, s.c, Location{Bucket: loc.Bucket, Key: "layers/none.cdx.json"}, ""); err != nil || got != nil || !strings.Contains(why, "is missing") {
		t.Errorf("ReadSBOM of no object = %q, %q, %v; want it said missing", got, why, err)
	}
	if _, err := s.direct.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(ReportLocation(loc).Key)}); err != nil {
		t.Fatal(err)
	}
	if st, miss, err := Find(ctx, s.c, loc, key); err != nil || st != nil || !strings.Contains(miss.Why, "the report "+ReportLocation(loc).String()+" is missing") {
		t.Errorf("Find without the report = %+v, %+v, %v; want nothing, because it is missing", st, miss, err)
	}
}

func testFoundByBuildKey(t *testing.T, s *motoS3) {
	ctx := context.Background()
	bucket := s.bucket(t)
	loc := Location{Bucket: bucket, Key: "layers/img/" + strings.Repeat("a", 64) + ".zip"}
	buildKey := strings.Repeat("a", 64)
	path, _, sum := artifact(t, 4000)
	report := []byte(`{"key":"` + buildKey + `","sha256":"` + sum + `"}` + "\n")

	st, miss, err := Find(ctx, s.c, loc, buildKey)
	if err != nil || st != nil || !strings.Contains(miss.Why, "no object") || !miss.Absent {
		t.Fatalf("Find before upload = %+v, %+v, %v; want nothing, because there is no object", st, miss, err)
	}

	obj, err := UploadArtifact(ctx, s.c, loc, Artifact{Path: path, SHA256: sum, BuildKey: buildKey, Report: report}, Options{}, nil)
	if err != nil || obj.Reused {
		t.Fatalf("UploadArtifact = %+v, %v; want a new object", obj, err)
	}
	if got := s.get(t, ReportLocation(loc)); !bytes.Equal(got, report) {
		t.Errorf("stored report %q, want %q", got, report)
	}

	s.rec.Reset()
	st, miss, err = Find(ctx, s.c, loc, buildKey)
	if err != nil || st == nil {
		t.Fatalf("Find after upload = %+v, %+v, %v; want the stored report", st, miss, err)
	}
	if !bytes.Equal(st.Report, report) || st.SHA256 != sum || st.Size != 4000 {
		t.Errorf("Find = report %q sha256 %s size %d; want %q, %s, 4000", st.Report, st.SHA256, st.Size, report, sum)
	}
	if s.writes() != 0 || s.rec.Count(http.MethodGet) != 1 {
		t.Errorf("Find sent %v; want one HEAD and one GET of the report", methods(s.rec.Requests()))
	}

	other := strings.Repeat("b", 64)
	if st, miss, err := Find(ctx, s.c, loc, other); err != nil || st != nil || !strings.Contains(miss.Why, "not "+other) || miss.Absent {
		t.Errorf("Find with another build key = %+v, %+v, %v; want nothing, naming both keys", st, miss, err)
	}

	// The same artifact again: both objects reused, nothing written.
	s.rec.Reset()
	obj, err = UploadArtifact(ctx, s.c, loc, Artifact{Path: path, SHA256: sum, BuildKey: buildKey, Report: report}, Options{}, nil)
	if err != nil || !obj.Reused || s.writes() != 0 {
		t.Errorf("second UploadArtifact = %+v, %v, sent %v; want reused with nothing written", obj, err, methods(s.rec.Requests()))
	}
}

// A report that does not match the sha256 the zip's metadata names is
// never trusted: Find says why and the caller builds.
func testMismatchedReport(t *testing.T, s *motoS3) {
	ctx := context.Background()
	loc := Location{Bucket: s.bucket(t), Key: "fn/code.zip"}
	key := strings.Repeat("c", 64)
	path, _, sum := artifact(t, 100)
	// The report object is written by hand, with other bytes than the
	// zip's metadata records.
	_, err := s.direct.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(loc.Bucket), Key: aws.String(ReportLocation(loc).Key), Body: strings.NewReader(`{"forged":true}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Metadata: map[string]string{MetaBuildKey: key, MetaReportSHA256: sha([]byte(`{"key":"real"}`))}}
	if _, err := Upload(ctx, s.c, loc, path, sum, opts); err != nil {
		t.Fatal(err)
	}
	st, miss, err := Find(ctx, s.c, loc, key)
	if err != nil || st != nil || !strings.Contains(miss.Why, "has sha256") {
		t.Errorf("Find with a mismatched report = %+v, %+v, %v; want nothing and the reason", st, miss, err)
	}
}

// A different report already beside the zip (another lambdapack version)
// is left alone; the zip is still stored, without the tie to the report.
func testAnotherReport(t *testing.T, s *motoS3) {
	ctx := context.Background()
	loc := Location{Bucket: s.bucket(t), Key: "fn/code2.zip"}
	key := strings.Repeat("d", 64)
	if _, err := UploadBytes(ctx, s.c, ReportLocation(loc), []byte(`{"old":"format"}`), Options{}); err != nil {
		t.Fatal(err)
	}
	path, _, sum := artifact(t, 100)
	var log bytes.Buffer
	obj, err := UploadArtifact(ctx, s.c, loc, Artifact{Path: path, SHA256: sum, BuildKey: key, Report: []byte(`{"new":"format"}`)}, Options{}, &log)
	if err != nil || obj.Reused {
		t.Fatalf("UploadArtifact = %+v, %v; want the zip stored", obj, err)
	}
	if !strings.Contains(log.String(), "left as it is") {
		t.Errorf("log %q does not note the other report", log.String())
	}
	if got := s.get(t, ReportLocation(loc)); string(got) != `{"old":"format"}` {
		t.Errorf("the other report was overwritten: %q", got)
	}
	if st, miss, _ := Find(ctx, s.c, loc, key); st != nil || miss.Why == "" {
		t.Errorf("Find = %+v, %+v; want nothing (the zip is not tied to a report)", st, miss)
	}
}

// A zip refused because a different object holds the key leaves nothing
// behind: its report is not stored beside an object it does not describe.
func TestArtifactConflictWritesNoReport(t *testing.T) {
	s := startS3(t)
	ctx := context.Background()
	loc := Location{Bucket: s.bucket(t), Key: "fn/taken.zip"}
	if _, err := s.direct.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key), Body: strings.NewReader("put there by hand"),
	}); err != nil {
		t.Fatal(err)
	}
	path, _, sum := artifact(t, 100)
	_, err := UploadArtifact(ctx, s.c, loc, Artifact{Path: path, SHA256: sum, BuildKey: strings.Repeat("e", 64), Report: []byte(`{"r":1}`)}, Options{}, nil)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("UploadArtifact over another object = %v, want ErrConflict", err)
	}
	_, err = s.direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(ReportLocation(loc).Key)})
	if !isNotFound(err) {
		t.Errorf("HEAD %s after the refused upload = %v; want no report stored", ReportLocation(loc), err)
	}
}
