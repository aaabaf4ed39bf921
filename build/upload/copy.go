package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Copying an artifact to another bucket, typically in another region: a
// Lambda layer version can only be published from a bucket in its own
// region, so a layer published in several regions needs its zip in a
// bucket of each. Copy does it inside S3 (CopyObject, which S3 runs
// across regions), so nothing is built again and the zip is neither
// downloaded nor sent from the machine that runs it; only the report, a
// few kB already read to find the artifact, is written from memory.
//
// The rules are the ones of UploadArtifact and Find: the source must be
// the artifact built from the expected key (its report intact, its zip's
// bytes shown by S3 to be the ones the report names); an object already
// at the destination is reused only when S3 shows the same bytes, and any
// other is an ErrConflict, never overwritten; the SBOM beside the source
// is copied by the same rules, and it and the report are stored first, so
// a visible zip always has both; and each copy is checked afterwards
// against the source's sha256, by S3's checksum of the copy (S3 computes
// it as it copies) or by reading the copy back.

// copyContentType is the copied zip's content type; the metadata is
// written anew (see Copy), which takes the content type with it.
const copyContentType = "application/zip"

// CopiedSBOM is the SBOM Copy put beside the copy, or found there.
type CopiedSBOM struct {
	// Location is beside the copy: SBOMLocation of the destination.
	Location Location
	SHA256   string
}

// Relocate returns the report to store beside a copy, given the source's
// report and the SBOM stored beside the copy (nil when the artifact has
// none). A report names where its SBOM is, so the source's names the
// source's; the copy's should name its own.
type Relocate func(report []byte, sbom *CopiedSBOM) ([]byte, error)

// Copy stores the artifact built from buildKey that is at src (read with
// from, a client of src's region) at dst (written with to, a client of
// dst's region), by a copy inside S3: its SBOM (SBOMLocation), then its
// report, then its zip. The destination's zip carries the same sha256 and
// the same ties to its build key and report as an UploadArtifact would
// give it, so Find there finds it. relocate, when not nil, gives the
// report stored beside the copy; nil stores the source's as it is.
//
// The SBOM copied is the one the source's report names (by its sha256),
// beside the source; a report from before SBOMs names none, and the SBOM a
// later build stored beside it is copied then, or none when there is
// none. Like the zip, it is reused when dst's side already holds the same
// bytes and refused (ErrConflict) when it holds others.
//
// The result is Reused when dst already held the same bytes (nothing was
// copied), and has CopiedFrom set when Copy wrote it. A source that is not
// the artifact of buildKey is an error saying why; log receives notes.
func Copy(ctx context.Context, from, to *s3.Client, src, dst Location, buildKey string, relocate Relocate, log io.Writer) (*Object, error) {
	if src == dst {
		return nil, fmt.Errorf("copy %s: the source and the destination are the same object", src)
	}
	if rloc := ReportLocation(dst); len(rloc.Key) > maxKeyBytes {
		return nil, fmt.Errorf("%s: the report's key %s would be over S3's %d bytes: use a shorter key", dst, rloc.Key, maxKeyBytes)
	}
	stored, miss, err := Find(ctx, from, src, buildKey)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		return nil, fmt.Errorf("%s holds no artifact built from key %s to copy (%s): the build step stores it there first", src, buildKey, miss.Why)
	}
	want := &local{size: stored.Size, sha256: stored.SHA256}

	// A different object at dst is refused before anything is written:
	// a report or an SBOM must never be left beside a zip it does not
	// describe.
	var reused *Object
	ex, err := Stat(ctx, to, dst)
	if err != nil {
		return nil, err
	}
	if ex != nil {
		if reused, err = sameOrConflict(ctx, to, dst, ex, want); err != nil {
			return nil, err
		}
	}
	sb, err := copySBOM(ctx, from, to, src, dst, stored.SBOMSHA256, log)
	if err != nil {
		return nil, err
	}
	report := stored.Report
	if relocate != nil {
		if report, err = relocate(report, sb); err != nil {
			return nil, fmt.Errorf("copy %s to %s: %w", src, dst, err)
		}
	}
	tie, err := storeReport(ctx, to, dst, report, buildKey, Options{}, log)
	if err != nil {
		return nil, err
	}
	if reused != nil {
		return reused, nil
	}

	meta := map[string]string{MetaSHA256: stored.SHA256}
	for k, v := range tie {
		meta[k] = v
	}
	// The source's metadata may tie it to its own report; the copy's tie
	// is to the report just stored beside it.
	return copyObject(ctx, to, src, dst, want, stored.ETag, &replacedMetadata{meta: meta, contentType: copyContentType})
}

// copySBOM copies the SBOM beside src to beside dst, inside S3. want is
// the sha256 the source's report names for it, "" when it names none (a
// report from before SBOMs): the SBOM stored beside it since, if any, is
// copied then. The result is nil when there is no SBOM to copy.
func copySBOM(ctx context.Context, from, to *s3.Client, src, dst Location, want string, log io.Writer) (*CopiedSBOM, error) {
	sloc, dloc := SBOMLocation(src), SBOMLocation(dst)
	if len(dloc.Key) > maxKeyBytes {
		return nil, fmt.Errorf("%s: the SBOM's key %s would be over S3's %d bytes: use a shorter key", dst, dloc.Key, maxKeyBytes)
	}
	ex, err := Stat(ctx, from, sloc)
	if err != nil {
		return nil, err
	}
	if ex == nil {
		if want != "" {
			return nil, fmt.Errorf("the report of %s names its SBOM (sha256 %s), but there is none at %s: store the artifact again with --upload", src, want, sloc)
		}
		if log != nil {
			fmt.Fprintf(log, "note: %s has no SBOM beside it (it was stored by a lambdapack from before SBOMs), so %s gets none\n", src, dst)
		}
		return nil, nil
	}
	p, err := prove(ctx, from, sloc, ex, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case want != "" && p.sha256 != want:
		return nil, fmt.Errorf("%s has sha256 %s by %s, not %s as the report of %s says: it is not that artifact's SBOM; store the artifact again with --upload",
			sloc, p.sha256, p.how, want, src)
	case want == "" && log != nil:
		fmt.Fprintf(log, "note: the report of %s names no SBOM (it was stored by a lambdapack from before SBOMs); copying the one stored beside it since, %s (sha256 %s)\n",
			src, sloc, p.sha256)
	}
	sum := &local{size: ex.Size, sha256: p.sha256}
	dex, err := Stat(ctx, to, dloc)
	if err != nil {
		return nil, err
	}
	if dex != nil {
		_, err = sameOrConflict(ctx, to, dloc, dex, sum)
	} else {
		// The source's metadata (its sha256, its content type) goes with it.
		_, err = copyObject(ctx, to, sloc, dloc, sum, ex.ETag, nil)
	}
	if errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("%w\n(the SBOM beside a copy is the source's; another build, name or lambdapack version wrote the one there: "+
			"copy to another key, or delete it deliberately)", err)
	}
	if err != nil {
		return nil, err
	}
	return &CopiedSBOM{Location: dloc, SHA256: p.sha256}, nil
}

// replacedMetadata is the metadata a copy is written with instead of its
// source's.
type replacedMetadata struct {
	meta        map[string]string
	contentType string
}

// copyObject copies src, whose bytes are want and whose ETag is etag, to
// dst inside S3 with to, a client of dst's region, and proves the copy
// has want's bytes. With replace nil the copy keeps src's metadata and
// content type. An object written at dst meanwhile is reused when it has
// want's bytes and an ErrConflict otherwise.
func copyObject(ctx context.Context, to *s3.Client, src, dst Location, want *local, etag string, replace *replacedMetadata) (*Object, error) {
	in := &s3.CopyObjectInput{
		Bucket:     aws.String(dst.Bucket),
		Key:        aws.String(dst.Key),
		CopySource: aws.String(copySource(src)),
		// The bytes proven, or none: a source replaced since the HEAD
		// fails the copy instead of being copied unchecked.
		CopySourceIfMatch: aws.String(etag),
		// Never over an object written meanwhile (see send).
		IfNoneMatch: aws.String("*"),
		// S3 computes the copy's own sha256 as it writes it, which is
		// what proves it below without reading it back.
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if replace != nil {
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.Metadata = replace.meta
		in.ContentType = aws.String(replace.contentType)
	}
	if _, err := to.CopyObject(ctx, in); err != nil {
		if !isPreconditionFailed(err) {
			return nil, classify(to, "copy "+src.String()+" to", dst, err)
		}
		// Either dst was written meanwhile, and what is there decides, or
		// the source changed since it was proven.
		ex, serr := Stat(ctx, to, dst)
		if serr != nil {
			return nil, serr
		}
		if ex == nil {
			return nil, fmt.Errorf("copy %s to %s: the source changed after it was checked (its ETag is no longer %s); run again", src, dst, etag)
		}
		return sameOrConflict(ctx, to, dst, ex, want)
	}

	// The copy is checked as an upload's reuse is: S3 must show the bytes.
	ex, err := Stat(ctx, to, dst)
	if err != nil {
		return nil, err
	}
	if ex == nil {
		return nil, fmt.Errorf("copy %s to %s: S3 accepted the copy but HEAD finds no object there", src, dst)
	}
	if ex.Size != want.size {
		return nil, fmt.Errorf("copy %s to %s: the copy has %d bytes, the source %d; it is left there for you to inspect and delete", src, dst, ex.Size, want.size)
	}
	p, err := prove(ctx, to, dst, ex, nil)
	if err != nil {
		return nil, err
	}
	if p.sha256 != want.sha256 {
		return nil, fmt.Errorf("copy %s to %s: the copy has sha256 %s by %s, the source %s; it is left there for you to inspect and delete",
			src, dst, p.sha256, p.how, want.sha256)
	}
	return &Object{Bucket: dst.Bucket, Key: dst.Key, CopiedFrom: src.String()}, nil
}

// copySource is loc as CopyObject's x-amz-copy-source names it:
// BUCKET/KEY with the key URL-encoded segment by segment, so its slashes
// stay separators.
func copySource(loc Location) string {
	segs := strings.Split(loc.Key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return loc.Bucket + "/" + strings.Join(segs, "/")
}
