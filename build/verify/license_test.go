package verify

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/galerly/galerly-lambda/build/sbom"
)

// Where verify looks for the SBOM: --sbom first, then beside the S3
// object Lambda says the version came from, then LicenseInfo's "see URI".
func TestSBOMLocation(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = 0xab
	}
	lv := &LayerVersion{LicenseInfo: "see s3://b-from-info/layers/x/K.cdx.json"}
	layerContent(lv, &types.LayerVersionContentOutput{
		CodeSha256:       aws.String(base64.StdEncoding.EncodeToString(raw)),
		ResolvedS3Object: &types.ResolvedS3Object{S3Bucket: aws.String("artifacts"), S3Key: aws.String("layers/galerly/K.zip")},
	})
	if lv.CodeSHA256 != sum || lv.S3Object != "s3://artifacts/layers/galerly/K.zip" {
		t.Fatalf("layerContent: %+v", lv)
	}
	for _, tc := range []struct {
		given string
		lv    *LayerVersion
		uri   string
	}{
		{"s3://given/x.cdx.json", lv, "s3://given/x.cdx.json"},
		{"", lv, "s3://artifacts/layers/galerly/K.cdx.json"},
		{"", &LayerVersion{LicenseInfo: lv.LicenseInfo}, "s3://b-from-info/layers/x/K.cdx.json"},
		{"", &LayerVersion{LicenseInfo: "MIT AND BSD-3-Clause"}, ""},
		{"", nil, ""},
	} {
		if uri, _ := SBOMLocation(tc.given, tc.lv); uri != tc.uri {
			t.Errorf("SBOMLocation(%q, %+v) = %q, want %q", tc.given, tc.lv, uri, tc.uri)
		}
	}
	f := Facts{Expected: LayerARN{Name: "galerly", Version: 4}, ExpectedVersion: &LayerVersion{ARN: LayerARN{Version: 4}, CodeSHA256: sum}}
	ok := CheckSBOM(f, &SBOMFacts{URI: "s3://a/b.cdx.json", From: "--sbom", Summary: &sbom.Summary{SHA256: sum, SpecVersion: "1.6"}})
	bad := CheckSBOM(f, &SBOMFacts{URI: "s3://a/b.cdx.json", From: "--sbom", Summary: &sbom.Summary{SHA256: strings.Repeat("cd", 32)}})
	gone := CheckSBOM(f, &SBOMFacts{URI: "s3://a/b.cdx.json", From: "--sbom", Unreachable: "AccessDenied"})
	if ok.Status != OK || bad.Status != Fail || gone.Status != Skip || !strings.Contains(gone.Detail, "AccessDenied") {
		t.Errorf("CheckSBOM: %v / %v / %v", ok, bad, gone)
	}
}
