package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/license"
)

// The layer's licenses as its builds report them: licenseInfo on every
// version, the SBOMs beside every region's zip, and the warning a shared
// layer with copyleft code gives.

// prodConcerns are concerns of the kind the prod set's wheels have.
var prodConcerns = []license.Concern{
	{Package: "numpy", Why: "vendors 3 shared libraries (libgfortran-040039e1.so.5.0.0, libopenblas64_p-r0-0cf96a72.3.23.dev.so, " +
		"libquadmath-96973f99.so.0.0.0): their licenses are not in its declaration"},
	{Package: "pillow_heif", Why: "carries a bundled-licenses file, pillow_heif-0.22.0.dist-info/licenses/LICENSES_bundled.txt: " +
		"the wheel ships software under other licenses"},
}

// copyleftWarnings runs the program (a preview too, unlike runLogged,
// which waits for every output) and returns the warnings it logged about
// sharing copyleft code.
func copyleftWarnings(t *testing.T, r run) []string {
	t.Helper()
	log := &recordLog{}
	r.body = func(ctx *pulumi.Context) error {
		log.Log = ctx.Log
		ctx.Log = log
		return program(ctx)
	}
	mustRun(t, r)
	var out []string
	for _, w := range log.warns {
		if strings.Contains(w, "GPL or LGPL") {
			out = append(out, w)
		}
	}
	return out
}

func TestSharedLayerWithConcernsWarns(t *testing.T) {
	const bucket = "galerly-artifacts" // an existing bucket: commands are known in a preview
	key := archKey(t, "x86_64")
	sbom := "s3://" + bucket + "/layers/" + layerName + "/" + key + ".cdx.json"
	accounts := `["` + shareAccount + `"]`
	for _, tc := range []struct {
		name     string
		accounts string // layerShareAccounts; "" unset
		org      string
		concerns []license.Concern
		// preview runs a preview; stdout gives the build steps the stdout
		// the stack's state has (a step that does not run again).
		preview, stdout bool
		warn            bool
		whom            []string // named in the warning
	}{
		{name: "shared with an account and an organization", accounts: accounts, org: shareOrg, concerns: prodConcerns,
			warn: true, whom: []string{shareAccount, shareOrg}},
		{name: "public", accounts: `["*"]`, concerns: prodConcerns, warn: true, whom: []string{"every AWS account"}},
		{name: "not shared", concerns: prodConcerns},
		{name: "shared, nothing of concern", accounts: accounts},
		{name: "preview, the lock unchanged", accounts: accounts, concerns: prodConcerns, preview: true, stdout: true,
			warn: true, whom: []string{shareAccount}},
		// The build runs in the update: the report, and the warning, come
		// then.
		{name: "preview, the lock changed", accounts: accounts, concerns: prodConcerns, preview: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := map[string]string{"artifactsBucket": bucket}
			if tc.accounts != "" {
				set["layerShareAccounts"] = tc.accounts
			}
			if tc.org != "" {
				set["layerShareOrganization"] = tc.org
			}
			got := copyleftWarnings(t, run{config: prodConfig(t, set), preview: tc.preview, previewStdout: tc.stdout,
				report: func(key, create string) string { return mockReport(key, create, tc.concerns) }})
			if !tc.warn {
				if len(got) > 0 {
					t.Errorf("warned %q", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("warnings %q, want one about sharing copyleft code", got)
			}
			want := append([]string{"layer " + layerName + " is shared with", sbom, "distributes its binaries"}, tc.whom...)
			for _, c := range prodConcerns {
				want = append(want, c.Package+" "+c.Why)
			}
			for _, w := range want {
				if !strings.Contains(got[0], w) {
					t.Errorf("warning %q does not say %q", got[0], w)
				}
			}
		})
	}
}

// One warning for every region and architecture, a concern of one
// architecture's wheels marked as such, with each architecture's SBOM.
func TestCopyleftWarningOncePerUpdate(t *testing.T) {
	arm := archKey(t, "arm64")
	armOnly := license.Concern{Package: "rawpy", Why: "vendors 1 shared library (libraw_r-3b5f1c0e.so.23.0.0): their licenses are not in its declaration"}
	got := copyleftWarnings(t, run{
		config: multiRegion(t, map[string]string{"layerShareOrganization": shareOrg}),
		report: func(key, create string) string {
			concerns := prodConcerns
			if key == arm {
				concerns = append([]license.Concern{armOnly}, prodConcerns...)
			}
			return mockReport(key, create, concerns)
		},
	})
	if len(got) != 1 {
		t.Fatalf("warnings %q, want one for the layer, whatever its regions and architectures", got)
	}
	for _, w := range []string{
		"rawpy " + armOnly.Why + " (arm64 only)",
		"numpy " + prodConcerns[0].Why + ";",
		"s3://" + mockBucket + "/layers/" + layerName + "/" + archKey(t, "x86_64") + ".cdx.json (x86_64)",
		"s3://" + mockBucket + "/layers/" + layerName + "/" + arm + ".cdx.json (arm64)",
	} {
		if !strings.Contains(got[0], w) {
			t.Errorf("warning %q does not say %q", got[0], w)
		}
	}
	if strings.Count(got[0], prodConcerns[0].Why) != 1 {
		t.Errorf("warning %q repeats a concern both architectures have", got[0])
	}
}

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

func TestSharedCopyleftWarningText(t *testing.T) {
	if got := sharedCopyleftWarning(project, layerName, []LayerGrant{accountGrant(shareAccount)}, []archConcerns{{arch: "x86_64", sbom: "s3://b/k.cdx.json"}}); got != "" {
		t.Errorf("no concerns: %q, want no warning", got)
	}
	got := sharedCopyleftWarning(project, layerName, []LayerGrant{publicGrant(), organizationGrant(shareOrg)},
		[]archConcerns{{arch: "x86_64", concerns: prodConcerns, sbom: "s3://b/k.cdx.json"}})
	for _, w := range []string{
		"shared with every AWS account, " + shareOrg + ",",
		"numpy vendors 3 shared libraries",
		"; pillow_heif carries a bundled-licenses file",
		project + ":layerShareAccounts and " + project + ":layerShareOrganization",
		"s3://b/k.cdx.json",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("%q does not say %q", got, w)
		}
	}
	if strings.Contains(got, "(x86_64") {
		t.Errorf("%q marks architectures of a layer built for one", got)
	}
}
