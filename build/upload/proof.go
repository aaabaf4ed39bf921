package upload

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// What proves an object's bytes. User metadata (x-amz-meta-sha256) never
// does: anyone who can write the bucket can write any metadata beside any
// bytes. These can only come from the bytes themselves:
//
//   - S3's sha256 checksum of the whole object, from a HEAD with checksum
//     mode on. S3 computes it over the bytes it receives, or checks the one
//     the writer sent against them and refuses the write if they differ.
//   - S3's composite checksum of a multipart object (the sha256 of its
//     parts' sha256s, each checked by S3 as the part arrived), recomputed
//     from the local file cut at the object's part size (a HEAD of part 1
//     gives it). Only a match proves anything: a local file cut
//     differently from how the object was sent gives another value for the
//     same bytes, so a mismatch falls back to reading the object.
//   - The object's bytes, read back from S3 and hashed.
const (
	byChecksum  = "S3's sha256 checksum of it"
	byComposite = "S3's checksum of its parts, recomputed from the local file"
	byReading   = "its bytes, read back from S3"
)

// maxProofRead bounds how much of an object is read back to hash it: a
// Lambda artifact is at most 262,144,000 bytes unzipped, so its zip cannot
// be much larger; an object that is is not one.
const maxProofRead = 512 << 20

// local is the artifact an existing object is compared with: its bytes
// (for recomputing a composite checksum), size and sha256.
type local struct {
	r      io.ReaderAt // nil: the bytes are not at hand (Find)
	size   int64
	sha256 string
}

// proven is an object's sha256 and what showed it.
type proven struct {
	sha256 string
	how    string
}

// prove finds the sha256 of the object at loc, which ex describes, from
// S3 rather than from its metadata. want, when its bytes are at hand,
// lets a composite checksum be recomputed instead of reading the object.
func prove(ctx context.Context, c *s3.Client, loc Location, ex *Existing, want *local) (proven, error) {
	if ex.Checksum != "" {
		return proven{ex.Checksum, byChecksum}, nil
	}
	if ex.Composite != "" && want != nil && want.r != nil && want.size == ex.Size {
		ok, err := compositeMatches(ctx, c, loc, ex, want)
		if err != nil {
			return proven{}, err
		}
		if ok {
			return proven{want.sha256, byComposite}, nil
		}
	}
	if ex.Size > maxProofRead {
		return proven{}, fmt.Errorf("%s is %d bytes, more than any Lambda artifact, and S3 keeps no sha256 checksum of it: refusing to read it back to hash it", loc, ex.Size)
	}
	sum, err := hashObject(ctx, c, loc, ex.Size)
	if err != nil {
		return proven{}, err
	}
	return proven{sum, byReading}, nil
}

// compositeMatches reports whether the object's composite checksum is the
// one want's bytes give when cut as the object's parts are: every part
// the size of part 1 (HEAD of part 1), the last one the rest.
func compositeMatches(ctx context.Context, c *s3.Client, loc Location, ex *Existing, want *local) (bool, error) {
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       aws.String(loc.Bucket),
		Key:          aws.String(loc.Key),
		PartNumber:   aws.Int32(1),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return false, classify(c, "HEAD part 1 of", loc, err)
	}
	partSize := aws.ToInt64(out.ContentLength)
	parts := int(aws.ToInt32(out.PartsCount))
	if parts == 0 {
		parts = ex.Parts
	}
	if partSize <= 0 || parts <= 0 || (want.size+partSize-1)/partSize != int64(parts) {
		return false, nil
	}
	_, sums, err := hashFile(want.r, want.size, partSize)
	if err != nil {
		return false, fmt.Errorf("hash the local file to compare with %s: %w", loc, err)
	}
	return compositeOf(sums) == ex.Composite, nil
}

// compositeOf is S3's composite sha256 checksum of parts with these
// sha256s, in base64, without the "-N" suffix.
func compositeOf(parts [][]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// hashObject reads an object of size bytes and returns its sha256; an
// object whose length is not size is an error.
func hashObject(ctx context.Context, c *s3.Client, loc Location, size int64) (string, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key)})
	if err != nil {
		return "", classify(c, "GET", loc, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(out.Body, size+1))
	if err != nil {
		return "", classify(c, "read back", loc, fmt.Errorf("to compare its sha256: %w", err))
	}
	if n != size {
		return "", fmt.Errorf("read back %s to compare its sha256: got %d bytes, HEAD said %d: it changed meanwhile; run again", loc, n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// splitComposite reads a composite checksum "BASE64-N" (the suffix may be
// missing, as moto leaves it off a HEAD) into its value and part count,
// taking the count from the ETag ("...-N") when the checksum has none.
func splitComposite(b64, etag string) (value string, parts int) {
	value, n, found := strings.Cut(b64, "-")
	if !found {
		_, n, _ = strings.Cut(strings.Trim(etag, `"`), "-")
	}
	parts, _ = strconv.Atoi(n)
	return value, parts
}
