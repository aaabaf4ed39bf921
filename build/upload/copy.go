package upload

import (
	"context"
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
// other is an ErrConflict, never overwritten; the report is stored first,
// so a visible zip always has its report; and the copy itself is checked
// afterwards against the source's sha256, by S3's checksum of the copy
// (S3 computes it as it copies) or by reading the copy back.

// copyContentType is the copied zip's content type; the metadata is
// written anew (see Copy), which takes the content type with it.
const copyContentType = "application/zip"

// Copy stores the artifact built from buildKey that is at src (read with
// from, a client of src's region) at dst (written with to, a client of
// dst's region), by a copy inside S3. The destination's zip carries the
// same sha256 and the same ties to its build key and report as an
// UploadArtifact would give it, so Find there finds it.
//
// The result is Reused when dst already held the same bytes (nothing was
// copied), and has CopiedFrom set when Copy wrote it. A source that is not
// the artifact of buildKey is an error saying why; log receives notes.
func Copy(ctx context.Context, from, to *s3.Client, src, dst Location, buildKey string, log io.Writer) (*Object, error) {
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

	// A different object at dst is refused before the report is written:
	// a report must never be left beside a zip it does not describe.
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
	tie, err := storeReport(ctx, to, dst, stored.Report, buildKey, Options{}, log)
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
	_, err = to.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(dst.Bucket),
		Key:        aws.String(dst.Key),
		CopySource: aws.String(copySource(src)),
		// The bytes proven above, or none: a source replaced since the
		// HEAD fails the copy instead of being copied unchecked.
		CopySourceIfMatch: aws.String(stored.ETag),
		// Never over an object written meanwhile (see send).
		IfNoneMatch: aws.String("*"),
		// S3 computes the copy's own sha256 as it writes it, which is
		// what proves it below without reading it back.
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		// The source's metadata may tie it to its own report; the copy's
		// tie is to the report just stored beside it.
		MetadataDirective: types.MetadataDirectiveReplace,
		Metadata:          meta,
		ContentType:       aws.String(copyContentType),
	})
	if err != nil {
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
			return nil, fmt.Errorf("copy %s to %s: the source changed after it was checked (its ETag is no longer %s); run again", src, dst, stored.ETag)
		}
		return sameOrConflict(ctx, to, dst, ex, want)
	}

	// The copy is checked as an upload's reuse is: S3 must show the bytes.
	ex, err = Stat(ctx, to, dst)
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
