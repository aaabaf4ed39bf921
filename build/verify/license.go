package verify

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/build/sbom"
	"github.com/galerly/galerly-lambda/build/upload"
)

// layerContent records what Lambda says of a layer version's zip: its
// sha256 (base64 in the API) and, when Lambda names it, the S3 object it
// was published from.
func layerContent(lv *LayerVersion, c *types.LayerVersionContentOutput) {
	if c == nil {
		return
	}
	if raw, err := base64.StdEncoding.DecodeString(aws.ToString(c.CodeSha256)); err == nil && len(raw) == 32 {
		lv.CodeSHA256 = hex.EncodeToString(raw)
	}
	if o := c.ResolvedS3Object; o != nil && aws.ToString(o.S3Bucket) != "" && aws.ToString(o.S3Key) != "" {
		lv.S3Object = upload.Location{Bucket: aws.ToString(o.S3Bucket), Key: aws.ToString(o.S3Key)}.String()
	}
}

// CheckLicenses reports the license summary the expected layer version
// states (its LicenseInfo). A version that states none is a skip, not a
// failure: layers published before the stack set it have none.
func CheckLicenses(f Facts) Result {
	r := Result{Check: "licenses"}
	lv := f.ExpectedVersion
	switch {
	case lv == nil:
		r.Status = Skip
		r.Detail = fmt.Sprintf("version %d of %s does not exist to read", f.Expected.Version, f.Expected.Name)
	case lv.LicenseInfo == "":
		r.Status = Skip
		r.Detail = fmt.Sprintf("layer version %d states no license (its LicenseInfo is empty; the stack sets it from the build's report, so it was published before that)", lv.ARN.Version)
	default:
		r.Detail = fmt.Sprintf("layer version %d states %s", lv.ARN.Version, lv.LicenseInfo)
	}
	return r
}

// SBOMFacts is what was found of the layer version's SBOM.
type SBOMFacts struct {
	URI  string // where it was looked for
	From string // how that place was learned, for the message
	// Unreachable says why it could not be read ("" when it was).
	Unreachable string
	// Summary is what it describes, when it was read.
	Summary *sbom.Summary
}

// SBOMLocation says where the expected layer version's SBOM is: the URI
// given (--sbom, the stack output layerSbomS3Uri); else beside the S3
// object Lambda says the version was published from; else the URI its
// LicenseInfo points at when the summary was too long for it. Lambda's
// own Content.Location is a presigned URL of Lambda's copy, which says
// nothing of the bucket. "" when there is none.
func SBOMLocation(given string, lv *LayerVersion) (uri, from string) {
	switch {
	case given != "":
		return given, "--sbom"
	case lv == nil:
		return "", ""
	case lv.S3Object != "":
		if loc, err := upload.ParseURI(lv.S3Object); err == nil {
			return upload.SBOMLocation(loc).String(), "beside the S3 object Lambda published the version from"
		}
	}
	if rest, ok := strings.CutPrefix(lv.LicenseInfo, "see "); ok && strings.HasPrefix(rest, "s3://") {
		return rest, "its LicenseInfo"
	}
	return "", ""
}

// GatherSBOM reads the SBOM at uri. That it cannot be read (no such
// object, no access) is a fact, not an error.
func GatherSBOM(ctx context.Context, c *s3.Client, uri, from string) *SBOMFacts {
	s := &SBOMFacts{URI: uri, From: from}
	loc, err := upload.ParseURI(uri)
	if err != nil {
		s.Unreachable = err.Error()
		return s
	}
	doc, why, err := upload.ReadSBOM(ctx, c, loc, "")
	if err != nil {
		why = err.Error()
	}
	if why != "" {
		s.Unreachable = why
		return s
	}
	sum, err := sbom.Describe(doc)
	if err != nil {
		s.Unreachable = fmt.Sprintf("%s: %v", uri, err)
		return s
	}
	s.Summary = &sum
	return s
}

// CheckSBOM says where the expected layer version's SBOM is and whether it
// describes that version's zip.
func CheckSBOM(f Facts, s *SBOMFacts) Result {
	r := Result{Check: "sbom"}
	lv := f.ExpectedVersion
	switch {
	case s == nil || s.URI == "":
		r.Status = Skip
		r.Detail = "no SBOM location known: pass --sbom (the stack output layerSbomS3Uri); Lambda does not say which S3 object a version came from"
	case s.Summary == nil:
		r.Status = Skip
		r.Detail = fmt.Sprintf("%s (from %s) is not reachable: %s", s.URI, s.From, s.Unreachable)
	case lv == nil || lv.CodeSHA256 == "":
		r.Status = Skip
		r.Detail = fmt.Sprintf("%s describes a zip with sha256 %s; Lambda gives no sha256 for version %d to compare", s.URI, s.Summary.SHA256, f.Expected.Version)
	case lv.CodeSHA256 != s.Summary.SHA256:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s describes a zip with sha256 %s, layer version %d's is %s", s.URI, s.Summary.SHA256, lv.ARN.Version, lv.CodeSHA256)
		r.Fix = "pass the SBOM of this version (pulumi stack output layerSbomS3Uri), or run pulumi up if the stack's outputs are behind"
	default:
		r.Detail = fmt.Sprintf("%s describes layer version %d (zip sha256 %s; %d wheels, %d vendored libraries; CycloneDX %s; found from %s)",
			s.URI, lv.ARN.Version, lv.CodeSHA256, s.Summary.Wheels, s.Summary.Libraries, s.Summary.SpecVersion, s.From)
	}
	return r
}
