package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/license"
	"github.com/galerly/galerly-lambda/build/upload"
)

// The layer's licenses, as its builds report them: each layer version
// states them in its licenseInfo, and every region's zip has its SBOM
// beside it.

// sbomKey is the S3 key of the SBOM stored beside the zip at s3Key, as
// lambdapack's --upload and copy store it: layers/NAME/KEY.cdx.json.
func sbomKey(s3Key string) string {
	return upload.SBOMLocation(upload.Location{Key: s3Key}).Key
}

// layerLicenseInfo is a layer version's licenseInfo: the license summary
// of its build's report within Lambda's 512 characters, or "see" the SBOM
// at sbomURI (the one in the version's region) when the summary is
// longer.
func layerLicenseInfo(report buildReportOutput, sbomURI pulumi.StringOutput) pulumi.StringOutput {
	return pulumi.All(report, sbomURI).ApplyT(func(v []any) string {
		return license.LayerInfo(v[0].(*buildReport).Licenses, v[1].(string))
	}).(pulumi.StringOutput)
}
