package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// An artifact is stored as two objects, so a later run can tell, from S3
// alone and before building anything, that the artifact for a given build
// key is already there, and print its report without building it (what
// makes a rollback to an old lock instant):
//
//	KEY                  the zip; metadata sha256, lambdapack-key (the
//	                     build key: layer or code key) and
//	                     lambdapack-report-sha256
//	KEY.lambdapack.json  the build's JSON report, itself stored by the
//	                     same never-overwrite rules
//
// The report is written first, so a visible zip always has its report.
// Both are immutable; the zip's metadata names the report's sha256, so a
// report that does not match it is ignored.
//
// What a found artifact rests on (Find): the report's bytes are read and
// must have the sha256 the zip's metadata names; the report must name the
// build key asked for and the zip's size; and the zip's bytes must have
// the sha256 the report names, shown by S3 (its checksum, or the zip read
// back and hashed), never by metadata. So a zip whose bytes differ from
// its report is never taken for the build. The report's claim that the
// key builds that zip is the one thing trusted: it is what lambdapack
// wrote after building, and only those who can write the bucket can
// replace it (with a zip and report of their own, consistent with each
// other). A deploy that does not trust them must not skip the build:
// build without --upload and compare.
const (
	// MetaBuildKey is the user-metadata entry holding the build key.
	MetaBuildKey = "lambdapack-key"
	// MetaReportSHA256 is the user-metadata entry holding the sha256 of
	// the report stored beside the zip.
	MetaReportSHA256 = "lambdapack-report-sha256"
	// ReportSuffix is appended to the zip's key to name its report.
	ReportSuffix = ".lambdapack.json"

	// maxReport bounds what Find reads back: a report is a few kB.
	maxReport = 4 << 20
)

// ReportLocation is where the report of the artifact at loc is stored.
func ReportLocation(loc Location) Location {
	return Location{Bucket: loc.Bucket, Key: loc.Key + ReportSuffix}
}

// Artifact is a built zip and what to store with it.
type Artifact struct {
	Path     string // the zip file
	SHA256   string // its sha256, hex
	BuildKey string // the key it was built from (64 hex)
	Report   []byte // the build's JSON report, as it should be printed on reuse
	// SBOM is the artifact's SBOM, stored at SBOMLocation(loc) with
	// content type SBOMType; none if nil.
	SBOM     []byte
	SBOMType string
}

// UploadArtifact stores a.SBOM at SBOMLocation(loc) (UploadSBOM), then
// a.Report at ReportLocation(loc), then the zip at loc (Upload's rules:
// reused when S3 shows the same bytes, ErrConflict otherwise, never
// overwritten), with metadata tying the zip to its build key and its
// report; a different object already at loc is an ErrConflict before
// anything is written, and so is a different SBOM beside it. A different report already stored beside loc (from
// another lambdapack version) is left as it is and noted on log; the zip is
// then stored without the tie, so it is reused after a build but not found
// before one.
func UploadArtifact(ctx context.Context, c *s3.Client, loc Location, a Artifact, opts Options, log io.Writer) (*Object, error) {
	rloc := ReportLocation(loc)
	if len(rloc.Key) > maxKeyBytes {
		return nil, fmt.Errorf("%s: the report's key %s would be over S3's %d bytes: use a shorter key", loc, rloc.Key, maxKeyBytes)
	}
	// A different object under loc is refused before the report is
	// written: a report must never be left beside a zip it does not
	// describe.
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, fmt.Errorf("upload to %s: %w", loc, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("upload to %s: %w", loc, err)
	}
	ex, err := Stat(ctx, c, loc)
	if err != nil {
		return nil, err
	}
	var reused *Object // the zip is there already, shown to be the same
	if ex != nil {
		if reused, err = sameOrConflict(ctx, c, loc, ex, &local{r: f, size: st.Size(), sha256: a.SHA256}); err != nil {
			return nil, err
		}
	}
	if a.SBOM != nil {
		if _, err := UploadSBOM(ctx, c, loc, a.SBOM, a.SBOMType); err != nil {
			return nil, err
		}
	}
	tie, err := storeReport(ctx, c, loc, a.Report, a.BuildKey, opts, log)
	if err != nil {
		return nil, err
	}
	if reused != nil {
		// Shown once; an object's metadata cannot change anyway.
		return reused, nil
	}
	meta := map[string]string{}
	for k, v := range opts.Metadata {
		meta[k] = v
	}
	for k, v := range tie {
		meta[k] = v
	}
	opts.Metadata = meta
	return Upload(ctx, c, loc, a.Path, a.SHA256, opts)
}

// storeReport stores report, the build report of the artifact built from
// buildKey that is (or is about to be) at loc, at ReportLocation(loc) by
// UploadBytes's never-overwrite rules, and returns the metadata that ties
// the zip to it. A different report already there is left as it is and
// noted on log, and the tie is empty: the zip is then reused after a build
// but not found before one.
func storeReport(ctx context.Context, c *s3.Client, loc Location, report []byte, buildKey string, opts Options, log io.Writer) (map[string]string, error) {
	rloc := ReportLocation(loc)
	ropts := opts
	ropts.ContentType = "application/json"
	ropts.Metadata = map[string]string{MetaBuildKey: buildKey}
	ropts.Progress = nil
	_, err := UploadBytes(ctx, c, rloc, report, ropts)
	switch {
	case errors.Is(err, ErrConflict):
		if log != nil {
			fmt.Fprintf(log, "note: %s holds another report for this artifact (%v); it is left as it is, "+
				"and the next run will build before finding %s reusable\n", rloc, err, loc)
		}
		return nil, nil
	case err != nil:
		return nil, err
	}
	sum := sha256.Sum256(report)
	return map[string]string{MetaBuildKey: buildKey, MetaReportSHA256: hex.EncodeToString(sum[:])}, nil
}

// Stored is an artifact found in S3 with its report.
type Stored struct {
	// Report is the stored report, whose sha256 is the one the zip's
	// metadata names and which names the build key, the zip's size and
	// SHA256.
	Report []byte
	// SHA256 is the zip's sha256 as S3 shows it (see proof.go).
	SHA256 string
	Size   int64 // the zip's size in bytes
	// ETag is the zip's entity tag as the HEAD gave it: a copy made with
	// it as a condition copies these very bytes or fails (Copy).
	ETag string
	// SBOMSHA256 is the sha256 the report names for the SBOM stored
	// beside the zip (SBOMLocation), "" when it names none.
	SBOMSHA256 string
}

// Miss says why Find found no artifact to reuse.
type Miss struct {
	// Absent is true when there is no object at the location at all, the
	// usual case of a new key.
	Absent bool
	// Why is the reason in words, for a note: no object, another key, no
	// report.
	Why string
}

// missed is a Miss for an object that is there but cannot be reused.
func missed(format string, args ...any) Miss { return Miss{Why: fmt.Sprintf(format, args...)} }

// storedReport is what Find reads of a report: what ties it to the key and
// to the zip. The rest is the caller's.
type storedReport struct {
	Key      string `json:"key"`
	SHA256   string `json:"sha256"`
	ZipBytes *int64 `json:"zipBytes"`
	SBOM     *struct {
		SHA256 string `json:"sha256"`
	} `json:"sbom"`
}

// Find looks for the artifact built from buildKey at loc. It returns the
// stored report when the object there was written by UploadArtifact from
// that key, its report is intact and names that key, and S3 shows the
// zip's bytes are the ones the report describes (see the top of this
// file); otherwise nil and why not. Only failures to talk to S3 are
// errors.
func Find(ctx context.Context, c *s3.Client, loc Location, buildKey string) (*Stored, Miss, error) {
	ex, err := Stat(ctx, c, loc)
	if err != nil {
		return nil, Miss{}, err
	}
	if ex == nil {
		return nil, Miss{Absent: true, Why: "no object at " + loc.String()}, nil
	}
	// The metadata only says where to look; what is found is checked.
	switch got := ex.Metadata[MetaBuildKey]; {
	case got == "":
		return nil, missed("%s has no lambdapack build key in its metadata", loc), nil
	case got != buildKey:
		return nil, missed("%s was built from key %s, not %s", loc, clip.String(got), buildKey), nil
	}
	wantReport := ex.Metadata[MetaReportSHA256]
	if !isSHA256Hex(wantReport) {
		return nil, missed("%s has no report sha256 in its metadata", loc), nil
	}
	rloc := ReportLocation(loc)
	report, miss, err := readReport(ctx, c, rloc, wantReport, loc)
	if report == nil {
		return nil, miss, err
	}
	var rep storedReport
	if err := json.Unmarshal(report, &rep); err != nil {
		return nil, missed("the report %s does not decode: %v", rloc, err), nil
	}
	switch {
	case rep.Key != buildKey:
		return nil, missed("the report %s is for key %s, not %s", rloc, clip.String(rep.Key), buildKey), nil
	case !isSHA256Hex(rep.SHA256):
		return nil, missed("the report %s names no sha256 for the zip", rloc), nil
	case rep.ZipBytes != nil && *rep.ZipBytes != ex.Size:
		return nil, missed("the report %s gives %d zip bytes but %s has %d", rloc, *rep.ZipBytes, loc, ex.Size), nil
	}
	p, err := prove(ctx, c, loc, ex, nil)
	if err != nil {
		return nil, Miss{}, err
	}
	if p.sha256 != rep.SHA256 {
		return nil, missed("%s has sha256 %s by %s, not %s as its report says", loc, p.sha256, p.how, rep.SHA256), nil
	}
	st := &Stored{Report: report, SHA256: p.sha256, Size: ex.Size, ETag: ex.ETag}
	if rep.SBOM != nil {
		st.SBOMSHA256 = rep.SBOM.SHA256
	}
	return st, Miss{}, nil
}

// readReport reads the report at rloc, hashing it as it comes: it must
// have sha256 want (what the zip at loc names in its metadata) and, when
// S3 keeps a sha256 checksum of it, that one too. A report that cannot be
// used is nil with the reason; only failures to talk to S3 are errors.
func readReport(ctx context.Context, c *s3.Client, rloc Location, want string, loc Location) ([]byte, Miss, error) {
	report, got, why, err := getSmall(ctx, c, rloc, maxReport)
	switch {
	case err != nil:
		return nil, Miss{}, err
	case why != "":
		return nil, missed("the report %s %s", rloc, why), nil
	case got != want:
		return nil, missed("the report %s has sha256 %s, not %s as %s's metadata says", rloc, got, want, loc), nil
	}
	return report, Miss{}, nil
}
