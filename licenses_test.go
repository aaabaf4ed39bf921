package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/license"
)

// The layer's licenses as its builds report them: licenseInfo on every
// version, with the SBOM beside every region's zip.

// Every layer version states its build's licenses; a summary over Lambda's
// 512 characters points at the SBOM beside the zip in the version's own
// region.
func TestLayerLicenseInfo(t *testing.T) {
	var refs []string
	for i := range 30 {
		refs = append(refs, fmt.Sprintf("LicenseRef-pypi-package-number-%d", i))
	}
	long := strings.Join(refs, " AND ")
	if len(long) <= license.MaxInfo {
		t.Fatalf("the long summary is %d characters", len(long))
	}
	for _, tc := range []struct {
		name, licenses string
		// want is the licenseInfo of the version of arch in region, whose
		// SBOM is sbom.
		want func(sbom string) string
	}{
		{"fits", mockLicenses, func(string) string { return mockLicenses }},
		{"over 512 characters", long, func(sbom string) string { return "see " + sbom }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustRun(t, run{config: multiRegion(t, nil), report: func(key, create string) string {
				return strings.Replace(mockReport(key, create, nil), `"licenses":"`+mockLicenses+`"`, `"licenses":"`+tc.licenses+`"`, 1)
			}})
			for _, region := range testRegions {
				bucket := mockBucket
				if region != "us-east-1" {
					bucket = "artifacts-" + region + mockBucketSuffix
				}
				for _, arch := range testArchs {
					lv := m.find(t, typeLayerVer, pubName(arch, region))
					sbom := "s3://" + bucket + "/layers/" + layerName + "/" + archKey(t, arch) + ".cdx.json"
					if got, want := strValue(t, lv, "licenseInfo"), tc.want(sbom); got != want {
						t.Errorf("%s: licenseInfo %q, want %q", lv.Name, got, want)
					}
				}
			}
		})
	}
}
