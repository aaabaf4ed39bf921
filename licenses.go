package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/license"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/build/upload"
)

// The layer's licenses, as its builds report them: each layer version
// states them in its licenseInfo, every region's zip has its SBOM beside
// it, and a shared layer whose wheels carry copyleft code says so on every
// preview and update.
//
// The report is known only once a build step has run: from the stack's
// state when the step does not run again, so a preview of an unchanged
// lock warns; a changed lock (or build command) runs the step during the
// update, and the warning comes then.

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

// archConcerns are one architecture's build's license concerns and where
// its SBOM is.
type archConcerns struct {
	arch     target.Arch
	concerns []license.Concern
	sbom     string
}

// warnSharedCopyleft logs one warning on l when the layer is shared and a
// build's report has license concerns, and returns it ("" when there is
// nothing to warn of). name is the Lambda layer's name.
func warnSharedCopyleft(ctx *pulumi.Context, l *Layer, name string, share []LayerGrant) pulumi.StringOutput {
	if len(share) == 0 {
		return pulumi.String("").ToStringOutput()
	}
	var parts []any
	for _, b := range l.Builds {
		parts = append(parts, b.Report, b.Report.sbomS3Uri())
	}
	return pulumi.All(parts...).ApplyT(func(v []any) (string, error) {
		builds := make([]archConcerns, len(l.Builds))
		for i, b := range l.Builds {
			builds[i] = archConcerns{arch: b.Arch, concerns: v[2*i].(*buildReport).LicenseConcerns, sbom: v[2*i+1].(string)}
		}
		msg := sharedCopyleftWarning(ctx.Project(), name, share, builds)
		if msg == "" {
			return "", nil
		}
		return msg, ctx.Log.Warn(msg, &pulumi.LogArgs{Resource: l})
	}).(pulumi.StringOutput)
}

// sharedCopyleftWarning is the warning about a layer named layer, shared
// with share, whose builds have the given concerns; "" when none has any.
// A concern of some architectures only is marked with them. namespace is
// the project's, for naming the config keys.
func sharedCopyleftWarning(namespace, layer string, share []LayerGrant, builds []archConcerns) string {
	type why struct {
		pkg, why string
		archs    []string
	}
	var whys []*why
	for _, b := range builds {
		for _, c := range b.concerns {
			i := slices.IndexFunc(whys, func(w *why) bool { return w.pkg == c.Package && w.why == c.Why })
			if i < 0 {
				whys = append(whys, &why{pkg: c.Package, why: c.Why})
				i = len(whys) - 1
			}
			whys[i].archs = append(whys[i].archs, string(b.arch))
		}
	}
	if len(whys) == 0 {
		return ""
	}
	// By package, in the reports' order within one (they are sorted by
	// package already; several architectures interleave).
	slices.SortStableFunc(whys, func(a, b *why) int { return strings.Compare(strings.ToLower(a.pkg), strings.ToLower(b.pkg)) })
	var listed []string
	for _, w := range whys {
		s := w.pkg + " " + w.why
		if len(builds) > 1 && len(w.archs) < len(builds) {
			s += " (" + strings.Join(w.archs, ", ") + " only)"
		}
		listed = append(listed, s)
	}
	who := make([]string, len(share))
	for i, g := range share {
		who[i] = g.Who()
		if g.Public() {
			who[i] = "every AWS account"
		}
	}
	sboms := make([]string, len(builds))
	for i, b := range builds {
		sboms[i] = b.sbom
		if len(builds) > 1 {
			sboms[i] += " (" + string(b.arch) + ")"
		}
	}
	return fmt.Sprintf("layer %s is shared with %s, and its wheels carry code under terms to check before sharing it: %s. "+
		"Sharing a layer distributes its binaries, so the GPL or LGPL terms of what it carries apply to whoever shares it; "+
		"to stop sharing, unset %s:layerShareAccounts and %s:layerShareOrganization. "+
		"The SBOM lists every wheel, vendored library and license file: %s",
		layer, strings.Join(who, ", "), strings.Join(listed, "; "), namespace, namespace, strings.Join(sboms, ", "))
}
