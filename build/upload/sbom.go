package upload

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// An artifact's SBOM is stored beside its zip, KEY.zip -> KEY.cdx.json,
// by Upload's rules: reused when S3 shows the same bytes there, refused
// when it holds others. It is stored before the report and the zip, so a
// visible zip always has its SBOM; the report names the SBOM's sha256.
const (
	// SBOMSuffix takes the place of the zip key's ".zip".
	SBOMSuffix = ".cdx.json"
	// maxSBOM bounds what is read back of an SBOM: a layer's is a few
	// hundred kB, license texts included.
	maxSBOM = 64 << 20
)

// SBOMLocation is where the SBOM of the artifact at loc is stored:
// s3://B/PATH/KEY.zip -> s3://B/PATH/KEY.cdx.json (a key not ending in
// .zip gets the suffix added).
func SBOMLocation(loc Location) Location {
	return Location{Bucket: loc.Bucket, Key: strings.TrimSuffix(loc.Key, ".zip") + SBOMSuffix}
}

// UploadSBOM stores doc, the SBOM of the artifact to be stored at loc, at
// SBOMLocation(loc) with the given content type. A different SBOM already
// there is an ErrConflict that says what makes two SBOMs of one artifact
// differ.
func UploadSBOM(ctx context.Context, c *s3.Client, loc Location, doc []byte, contentType string) (*Object, error) {
	sloc := SBOMLocation(loc)
	if len(sloc.Key) > maxKeyBytes {
		return nil, fmt.Errorf("%s: the SBOM's key %s would be over S3's %d bytes: use a shorter key", loc, sloc.Key, maxKeyBytes)
	}
	obj, err := UploadBytes(ctx, c, sloc, doc, Options{ContentType: contentType})
	if errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("%w\n(the SBOM of an artifact is the same bytes whenever the same lambdapack builds it with the same --name and SOURCE_DATE_EPOCH; "+
			"another version, name or date wrote the one stored: build with what wrote it, or store under another key)", err)
	}
	return obj, err
}

// HasSBOM reports whether SBOMLocation(loc) holds an object whose sha256,
// shown by S3 (see proof.go), is want; why says why not. Only failures to
// talk to S3 are errors.
func HasSBOM(ctx context.Context, c *s3.Client, loc Location, want string) (ok bool, why string, err error) {
	sloc := SBOMLocation(loc)
	ex, err := Stat(ctx, c, sloc)
	if err != nil {
		return false, "", err
	}
	if ex == nil {
		return false, "no SBOM at " + sloc.String(), nil
	}
	p, err := prove(ctx, c, sloc, ex, nil)
	if err != nil {
		return false, "", err
	}
	if p.sha256 != want {
		return false, fmt.Sprintf("%s has sha256 %s by %s, not %s as the report says", sloc, p.sha256, p.how, want), nil
	}
	return true, "", nil
}

// ReadSBOM reads the SBOM at loc (an SBOM's own location, not its
// zip's). why, when not "", says why there is none to use: no object,
// one over 64 MiB, bytes other than S3's checksum of them says, or, unless
// want is "", bytes whose sha256 is not want. Only failures to talk to S3
// are errors.
func ReadSBOM(ctx context.Context, c *s3.Client, loc Location, want string) (doc []byte, why string, err error) {
	data, sum, why, err := getSmall(ctx, c, loc, maxSBOM)
	switch {
	case err != nil:
		return nil, "", err
	case why != "":
		return nil, fmt.Sprintf("%s %s", loc, why), nil
	case want != "" && sum != want:
		return nil, fmt.Sprintf("%s has sha256 %s, not %s", loc, sum, want), nil
	}
	return data, "", nil
}

// getSmall reads the object at loc, at most max bytes, hashing it as it
// comes, and returns its bytes and their sha256; why, when not "", says
// why there are none to use: no object, more than max bytes, or bytes
// other than S3's whole-object sha256 checksum says. Only failures to
// talk to S3 are errors.
func getSmall(ctx context.Context, c *s3.Client, loc Location, max int64) (data []byte, sum, why string, err error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{
		Bucket:       aws.String(loc.Bucket),
		Key:          aws.String(loc.Key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		if isNotFound(err) {
			return nil, "", "is missing", nil
		}
		return nil, "", "", classify(c, "GET", loc, err)
	}
	defer out.Body.Close()
	data, err = io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		// The SDK checks the bytes against S3's checksum as they come,
		// and reports a mismatch here.
		return nil, "", "", classify(c, "read", loc, err)
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Sprintf("is over %d bytes", max), nil
	}
	raw := sha256.Sum256(data)
	sum = hex.EncodeToString(raw[:])
	if b64 := aws.ToString(out.ChecksumSHA256); b64 != "" && !strings.Contains(b64, "-") && b64 != base64.StdEncoding.EncodeToString(raw[:]) {
		return nil, "", fmt.Sprintf("has sha256 %s, not the %s S3's checksum says", sum, b64), nil
	}
	return data, sum, "", nil
}
