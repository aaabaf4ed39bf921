package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
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
// report that does not match it is ignored, never trusted.
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
}

// UploadArtifact stores a.Report at ReportLocation(loc), then the zip at
// loc (Upload's rules: reused when the same, ErrConflict when different,
// never overwritten), with metadata tying the zip to its build key and its
// report; a different object already at loc is an ErrConflict before
// anything is written. A different report already stored beside loc (from
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
	ex, err := Stat(ctx, c, loc)
	if err != nil {
		return nil, err
	}
	if ex != nil {
		if _, err := sameOrConflict(ctx, c, loc, ex, a.SHA256); err != nil {
			return nil, err
		}
	}
	ropts := opts
	ropts.ContentType = "application/json"
	ropts.Metadata = map[string]string{MetaBuildKey: a.BuildKey}
	ropts.Progress = nil
	meta := map[string]string{}
	for k, v := range opts.Metadata {
		meta[k] = v
	}
	_, err = UploadBytes(ctx, c, rloc, a.Report, ropts)
	switch {
	case errors.Is(err, ErrConflict):
		if log != nil {
			fmt.Fprintf(log, "note: %s holds another report for this artifact (%v); it is left as it is, "+
				"and the next run will build before finding %s reusable\n", rloc, err, loc)
		}
	case err != nil:
		return nil, err
	default:
		sum := sha256.Sum256(a.Report)
		meta[MetaBuildKey] = a.BuildKey
		meta[MetaReportSHA256] = hex.EncodeToString(sum[:])
	}
	opts.Metadata = meta
	return Upload(ctx, c, loc, a.Path, a.SHA256, opts)
}

// Stored is an artifact found in S3 with its report.
type Stored struct {
	Report []byte // verified against the zip's metadata
	SHA256 string // the zip's sha256
	Size   int64  // the zip's size in bytes
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

// Find looks for the artifact built from buildKey at loc. It returns the
// stored report when the object there was written by UploadArtifact from
// that key and its report is intact; otherwise nil and why not. Only
// failures to talk to S3 are errors.
func Find(ctx context.Context, c *s3.Client, loc Location, buildKey string) (*Stored, Miss, error) {
	ex, err := Stat(ctx, c, loc)
	if err != nil {
		return nil, Miss{}, err
	}
	if ex == nil {
		return nil, Miss{Absent: true, Why: "no object at " + loc.String()}, nil
	}
	switch got := ex.Metadata[MetaBuildKey]; {
	case got == "":
		return nil, missed("%s has no lambdapack build key in its metadata", loc), nil
	case got != buildKey:
		return nil, missed("%s was built from key %s, not %s", loc, got, buildKey), nil
	}
	want := ex.Metadata[MetaReportSHA256]
	if !isSHA256Hex(want) || !isSHA256Hex(ex.SHA256) {
		return nil, missed("%s has no report or no sha256 in its metadata", loc), nil
	}
	rloc := ReportLocation(loc)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{
		Bucket:       aws.String(rloc.Bucket),
		Key:          aws.String(rloc.Key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		if isNotFound(err) {
			return nil, missed("the report %s is missing", rloc), nil
		}
		return nil, Miss{}, classify(c, "GET", rloc, err)
	}
	defer out.Body.Close()
	report, err := io.ReadAll(io.LimitReader(out.Body, maxReport+1))
	if err != nil {
		return nil, Miss{}, fmt.Errorf("read %s: %w", rloc, err)
	}
	if len(report) > maxReport {
		return nil, missed("the report %s is over %d bytes", rloc, maxReport), nil
	}
	if sum := sha256.Sum256(report); hex.EncodeToString(sum[:]) != want {
		return nil, missed("the report %s has sha256 %s, not %s as %s's metadata says", rloc, hex.EncodeToString(sum[:]), want, loc), nil
	}
	return &Stored{Report: report, SHA256: ex.SHA256, Size: ex.Size}, Miss{}, nil
}
