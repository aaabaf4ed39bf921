package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
)

// The layer in several regions and for several architectures: one build
// per architecture, a copy of each build into each extra region's bucket,
// and a layer version per region and architecture through that region's
// provider.

// The regions and architectures of the tests: the stack's region first.
var (
	testRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	testArchs   = []string{"x86_64", "arm64"}
)

// multiRegion is the prod config with three regions and two
// architectures, and set on top.
func multiRegion(t *testing.T, set map[string]string) map[string]string {
	t.Helper()
	regions, _ := json.Marshal(testRegions)
	archs, _ := json.Marshal(testArchs)
	all := map[string]string{"layerRegions": string(regions), "layerArchitectures": string(archs)}
	for k, v := range set {
		all[k] = v
	}
	return prodConfig(t, all)
}

// archKey is the layer key of the prod lock for arch.
func archKey(t *testing.T, arch string) string {
	t.Helper()
	tg := prodTarget(t)
	tg.Arch = target.Arch(arch)
	key, err := build.LayerKey("locks/image-processing.txt", tg, lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// providerOf returns the name of the explicit provider r was registered
// with, "" for the default provider.
func providerOf(r registered) string {
	if r.Provider == "" {
		return ""
	}
	return resource.URN(r.Provider[:strings.LastIndex(r.Provider, "::")]).Name()
}

// checkProvider checks that r is declared through region's provider: the
// default one in the stack's region, aws-REGION in another.
func checkProvider(t *testing.T, r registered, region string) {
	t.Helper()
	want := ""
	if region != "us-east-1" {
		want = "aws-" + region
	}
	if got := providerOf(r); got != want {
		t.Errorf("%s::%s: provider %q, want %q", r.Type, r.Name, got, want)
	}
}

// pubName is the base name of the resources publishing arch in region;
// in the stack's region it is the Lambda layer name of arch.
func pubName(arch, region string) string {
	n := layerName
	if arch != "x86_64" {
		n += "-" + arch
	}
	if region != "us-east-1" {
		n += "-" + region
	}
	return n
}

func TestSixLayerVersionsFromTwoBuilds(t *testing.T) {
	out, m := exportedAndMocks(t, run{config: multiRegion(t, nil),
		regionVersions: map[string]string{"eu-west-1": "4", "ap-southeast-2": "2"}})

	builds := m.ofType(typeCommand)
	var buildNames []string
	for _, b := range builds {
		if strings.Contains(strValue(t, b, "create"), "lambdapack layer ") {
			buildNames = append(buildNames, b.Name)
		}
	}
	slices.Sort(buildNames)
	if want := []string{layerName + "-arm64-build", layerName + "-build"}; !slices.Equal(buildNames, want) {
		t.Fatalf("layer builds %v, want one per architecture: %v", buildNames, want)
	}
	for _, arch := range testArchs {
		key := archKey(t, arch)
		b := m.find(t, typeCommand, pubName(arch, "us-east-1")+"-build")
		if got := strList(t, b, "triggers"); got[0] != key || len(got) < 2 {
			t.Errorf("%s build triggers %v, want its key %s and its pins", arch, got, key)
		}
		create := strValue(t, b, "create")
		for _, w := range []string{" --arch " + arch + " ", "--upload s3://" + mockBucket + "/layers/" + layerName + "/" + key + ".zip"} {
			if !strings.Contains(create, w) {
				t.Errorf("%s build command does not say %q: %s", arch, w, create)
			}
		}
	}

	providers := m.ofType(typeAWSProvider)
	var providerNames []string
	for _, p := range providers {
		providerNames = append(providerNames, p.Name+"="+p.Inputs["region"].StringValue())
	}
	slices.Sort(providerNames)
	if want := []string{"aws-ap-southeast-2=ap-southeast-2", "aws-eu-west-1=eu-west-1"}; !slices.Equal(providerNames, want) {
		t.Errorf("explicit providers %v, want one per extra region named after it: %v", providerNames, want)
	}

	versions := m.ofType(typeLayerVer)
	if len(versions) != 6 {
		t.Fatalf("%d layer versions, want 6 (3 regions x 2 architectures): %v", len(versions), m.names())
	}
	for _, region := range testRegions {
		bucket := mockBucket
		bucketRes := "artifacts"
		if region != "us-east-1" {
			bucketRes = "artifacts-" + region
			bucket = bucketRes + mockBucketSuffix
			for _, typ := range []string{typeBucket, typeSSE, typeBlock, typeOwnership} {
				if r := m.find(t, typ, bucketRes); providerOf(r) != "aws-"+region {
					t.Errorf("%s::%s is declared through provider %q, want aws-%s", typ, bucketRes, providerOf(r), region)
				}
			}
			// It holds copies only: removing the region deletes it.
			if force, _ := boolInput(t, m.find(t, typeBucket, bucketRes), "forceDestroy"); !force {
				t.Errorf("%s: forceDestroy not set: removing %s from layerRegions would fail on a non-empty bucket", bucketRes, region)
			}
		}
		for _, arch := range testArchs {
			key := archKey(t, arch)
			name := pubName(arch, region)
			lv := m.find(t, typeLayerVer, name)
			checkProvider(t, lv, region)
			wantLayer := layerName
			if arch != "x86_64" {
				wantLayer += "-" + arch
			}
			if got := strValue(t, lv, "layerName"); got != wantLayer {
				t.Errorf("%s: layerName %s, want %s", name, got, wantLayer)
			}
			if got := strList(t, lv, "compatibleArchitectures"); !slices.Equal(got, []string{arch}) {
				t.Errorf("%s: compatibleArchitectures %v, want [%s] alone", name, got, arch)
			}
			if got := strValue(t, lv, "s3Bucket"); got != bucket || !lv.inputFrom("s3Bucket", typeBucket, bucketRes) {
				t.Errorf("%s: s3Bucket %s (from %v), want %s's bucket %s", name, got, lv.PropDep["s3Bucket"], region, bucket)
			}
			if got := strValue(t, lv, "s3Key"); got != "layers/"+layerName+"/"+key+".zip" {
				t.Errorf("%s: s3Key %s, want the %s key's", name, got, arch)
			}
			if keep, _ := boolInput(t, lv, "skipDestroy"); !keep {
				t.Errorf("%s: skipDestroy not set: keepLayerVersions applies in every region", name)
			}
			if region == "us-east-1" {
				if !lv.dependsOn(typeCommand, pubName(arch, region)+"-build") {
					t.Errorf("%s does not wait for its build", name)
				}
				continue
			}
			// The extra region's zip comes from a copy of the one build.
			cp := m.find(t, typeCommand, name+"-copy")
			if !lv.dependsOn(typeCommand, name+"-copy") {
				t.Errorf("%s does not wait for its copy", name)
			}
			if !cp.dependsOn(typeCommand, pubName(arch, "us-east-1")+"-build") {
				t.Errorf("%s-copy does not wait for the %s build", name, arch)
			}
			s3Key := "layers/" + layerName + "/" + key + ".zip"
			wantCreate := "mkdir -p .lambdapack && go run ./build/cmd/lambdapack copy --build-key " + key +
				" --from s3://" + mockBucket + "/" + s3Key + " --from-region us-east-1 --to s3://" + bucket + "/" + s3Key
			if got := strValue(t, cp, "create"); got != wantCreate {
				t.Errorf("%s-copy create =\n %s\nwant\n %s", name, got, wantCreate)
			}
			// The SBOM's sha256 from the build's report: a build that
			// stored a new SBOM for the same key is copied again.
			if got := strList(t, cp, "triggers"); !slices.Equal(got, []string{key, region, "s3://" + bucket + "/" + s3Key, mockSBOMSHA256(key)}) ||
				!cp.inputFrom("triggers", typeCommand, pubName(arch, "us-east-1")+"-build") {
				t.Errorf("%s-copy triggers %v, want the key, the destination and the build's SBOM", name, got)
			}
			// The version's licenses are the build's; a long summary
			// would point at the SBOM beside this region's zip.
			if got := strValue(t, lv, "licenseInfo"); got != mockLicenses {
				t.Errorf("%s: licenseInfo %q, want the %s build's %q", name, got, arch, mockLicenses)
			}
			if env := cp.Inputs["environment"].ObjectValue(); env["AWS_REGION"].StringValue() != region {
				t.Errorf("%s-copy environment %v, want AWS_REGION=%s (the destination's)", name, env, region)
			}
		}
	}

	// The function stays in the stack's region on its architecture.
	fn := m.find(t, typeFunction, apiName)
	homeArn := "arn:aws:lambda:us-east-1:" + mockAccount + ":layer:" + layerName + ":1"
	if got := strList(t, fn, "layers"); !slices.Equal(got, []string{homeArn}) {
		t.Errorf("function layers %v, want the stack region's x86_64 version alone: %s", got, homeArn)
	}

	// Outputs: every region's ARN, version numbers as each region gave
	// them, and the zips by architecture.
	wantArns := map[string]map[string]string{}
	wantVersions := map[string]map[string]string{}
	wantURIs := map[string]map[string]string{}
	wantSBOMs := map[string]map[string]string{}
	for _, region := range testRegions {
		v := map[string]string{"us-east-1": "1", "eu-west-1": "4", "ap-southeast-2": "2"}[region]
		for _, arch := range testArchs {
			lname := pubName(arch, "us-east-1")
			if wantArns[region] == nil {
				wantArns[region], wantVersions[region] = map[string]string{}, map[string]string{}
			}
			wantArns[region][arch] = fmt.Sprintf("arn:aws:lambda:%s:%s:layer:%s:%s", region, mockAccount, lname, v)
			wantVersions[region][arch] = v
			bucket := mockBucket
			if region != "us-east-1" {
				bucket = "artifacts-" + region + mockBucketSuffix
			}
			if wantURIs[arch] == nil {
				wantURIs[arch], wantSBOMs[arch] = map[string]string{}, map[string]string{}
			}
			wantURIs[arch][region] = "s3://" + bucket + "/layers/" + layerName + "/" + archKey(t, arch) + ".zip"
			// Every region's bucket has the SBOM beside the zip.
			wantSBOMs[arch][region] = "s3://" + bucket + "/layers/" + layerName + "/" + archKey(t, arch) + ".cdx.json"
		}
	}
	for name, want := range map[string]any{"layerArns": wantArns, "layerVersions": wantVersions, "layerS3Uris": wantURIs, "layerSbomS3Uris": wantSBOMs} {
		if got := fmt.Sprint(out[name]); got != fmt.Sprint(want) {
			t.Errorf("output %s =\n %s\nwant\n %v", name, got, want)
		}
	}
	if got := out["layerArn"]; got != homeArn {
		t.Errorf("layerArn = %v, want the stack region's x86_64 version %s", got, homeArn)
	}
	if got, want := out["layerSbomS3Uri"], wantSBOMs["x86_64"]["us-east-1"]; got != want {
		t.Errorf("layerSbomS3Uri = %v, want the stack region's x86_64 SBOM %s", got, want)
	}
}

// Adding regions and architectures adds resources; every resource of the
// prod graph stays as it was, down to its inputs.
func TestRegionsLeaveTheProdGraphAsItWas(t *testing.T) {
	for _, g := range prodGraphs() {
		t.Run(g.file, func(t *testing.T) {
			want, err := os.ReadFile(g.file)
			if err != nil {
				t.Fatal(err)
			}
			got := prodGraph(t, multiRegion(t, g.set))
			var wantNodes, gotNodes []json.RawMessage
			if err := json.Unmarshal(want, &wantNodes); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &gotNodes); err != nil {
				t.Fatal(err)
			}
			byURN := map[string]json.RawMessage{}
			for _, n := range gotNodes {
				var head struct{ URN string }
				_ = json.Unmarshal(n, &head)
				byURN[head.URN] = n
			}
			for _, n := range wantNodes {
				var head struct{ URN string }
				_ = json.Unmarshal(n, &head)
				if gn, ok := byURN[head.URN]; !ok {
					t.Errorf("%s is gone", head.URN)
				} else if string(compactJSON(t, gn)) != string(compactJSON(t, n)) {
					t.Errorf("%s differs:\n was %s\n now %s", head.URN, compactJSON(t, n), compactJSON(t, gn))
				}
			}
			if len(gotNodes) <= len(wantNodes) {
				t.Errorf("%d resources, want more than prod's %d", len(gotNodes), len(wantNodes))
			}
		})
	}
	// Naming the stack's own region and architecture alone is the prod
	// graph itself.
	same := prodGraph(t, prodConfig(t, map[string]string{"layerRegions": `["us-east-1"]`, "layerArchitectures": `["x86_64"]`, "artifactsBuckets": "{}"}))
	want, err := os.ReadFile("testdata/prod-graph.json")
	if err != nil {
		t.Fatal(err)
	}
	compareGraphs(t, "layerRegions [us-east-1], layerArchitectures [x86_64]", want, same)
}

// Sharing grants go with every version, in its region, through its
// region's provider.
func TestSharingInEveryRegion(t *testing.T) {
	m := mustRun(t, run{config: multiRegion(t, map[string]string{"layerShareAccounts": `["` + shareAccount + `"]`, "layerShareOrganization": shareOrg})})
	perms := m.ofType(typeLayerPerm)
	if len(perms) != 12 {
		t.Fatalf("%d permissions, want 12 (6 versions x 2 principals): %v", len(perms), m.names())
	}
	for _, region := range testRegions {
		for _, arch := range testArchs {
			for _, stmt := range []string{"account-" + shareAccount, "organization-" + shareOrg} {
				name := pubName(arch, region) + "-share-" + stmt
				p := m.find(t, typeLayerPerm, name)
				checkProvider(t, p, region)
				if got, want := strValue(t, p, "layerName"), pubName(arch, "us-east-1"); got != want {
					t.Errorf("%s: layerName %s, want %s", name, got, want)
				}
				if !p.inputFrom("versionNumber", typeLayerVer, pubName(arch, region)) {
					t.Errorf("%s: versionNumber does not come from its region's version", name)
				}
				if keep, _ := boolInput(t, p, "skipDestroy"); !keep {
					t.Errorf("%s: skipDestroy not set: a kept version keeps its grants in every region", name)
				}
			}
		}
	}
	off := mustRun(t, run{config: multiRegion(t, map[string]string{"keepLayerVersions": "false"})})
	for _, lv := range off.ofType(typeLayerVer) {
		if _, set := boolInput(t, lv, "skipDestroy"); set {
			t.Errorf("%s: keepLayerVersions false still sets skipDestroy", lv.Name)
		}
	}
}

// A new lock touches every region and architecture: both builds (their
// triggers name the changed pin, once per architecture), every copy and
// every layer version; nothing else.
func TestLockChangeTouchesEveryRegion(t *testing.T) {
	data, err := os.ReadFile("locks/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	cfg := multiRegion(t, nil)
	base := mustRun(t, run{config: cfg, root: copyProject(t, string(data))})
	root := copyProject(t, bumpNumpy(t, string(data)))
	bumped := mustRun(t, run{config: cfg, root: root})
	var want []string
	for _, arch := range testArchs {
		b := typeCommand + "::" + pubName(arch, "us-east-1") + "-build"
		want = append(want, b+" create", b+" triggers")
		for _, region := range testRegions {
			lv := typeLayerVer + "::" + pubName(arch, region)
			want = append(want, lv+" description", lv+" s3Key")
			if region != "us-east-1" {
				cp := typeCommand + "::" + pubName(arch, region) + "-copy"
				want = append(want, cp+" create", cp+" triggers")
			}
		}
	}
	slices.Sort(want)
	if got := changedInputs(inputsByResource(base), inputsByResource(bumped)); !slices.Equal(got, want) {
		t.Errorf("changed inputs:\n got %v\nwant %v", got, want)
	}
	// The preview names the pins changed once per architecture, in its
	// build step.
	preview := mustRun(t, run{config: cfg, root: root, preview: true})
	var named []string
	for _, r := range preview.ofType(typeCommand) {
		for _, v := range r.Inputs["triggers"].ArrayValue() {
			// A copy's destination is unknown while its bucket is new.
			if v.IsString() && v.StringValue() == "numpy==2.1.4" {
				named = append(named, r.Name)
			}
		}
	}
	slices.Sort(named)
	if wantNamed := []string{layerName + "-arm64-build", layerName + "-build"}; !slices.Equal(named, wantNamed) {
		t.Errorf("numpy==2.1.4 named in the triggers of %v, want %v: once per architecture", named, wantNamed)
	}
}

func TestExistingRegionBuckets(t *testing.T) {
	m := mustRun(t, run{config: multiRegion(t, map[string]string{"artifactsBuckets": `{"eu-west-1":"galerly-layers-eu"}`})})
	for _, n := range m.names() {
		if strings.Contains(n, "::artifacts-eu-west-1") {
			t.Errorf("created %s, want eu-west-1's configured bucket used", n)
		}
	}
	m.find(t, typeBucket, "artifacts-ap-southeast-2")
	for _, arch := range testArchs {
		lv := m.find(t, typeLayerVer, pubName(arch, "eu-west-1"))
		if got := strValue(t, lv, "s3Bucket"); got != "galerly-layers-eu" {
			t.Errorf("%s: s3Bucket %s, want galerly-layers-eu", lv.Name, got)
		}
		cp := m.find(t, typeCommand, pubName(arch, "eu-west-1")+"-copy")
		if got := strValue(t, cp, "create"); !strings.Contains(got, " --to s3://galerly-layers-eu/layers/") {
			t.Errorf("%s: create %s, want the copy into galerly-layers-eu", cp.Name, got)
		}
	}
}

// The extra regions' providers carry the stack's aws:* settings: its
// profile, endpoints, tags; credentials stay secret.
func TestRegionProvidersCarryTheStacksSettings(t *testing.T) {
	cfg := multiRegion(t, map[string]string{"layerRegions": `["us-east-1","eu-west-1"]`})
	cfg["aws:profile"] = "galerly-deploy"
	cfg["aws:skipCredentialsValidation"] = "true"
	cfg["aws:endpoints"] = `[{"s3":"http://127.0.0.1:4566","lambda":"http://127.0.0.1:4566"}]`
	cfg["aws:defaultTags"] = `{"tags":{"team":"photos"}}`
	cfg["aws:allowedAccountIds"] = `["` + mockAccount + `"]`
	cfg["aws:secretKey"] = "not-a-real-secret"
	m := mustRun(t, run{config: cfg, secrets: []string{"aws:secretKey"}})
	p := m.find(t, typeAWSProvider, "aws-eu-west-1")
	in := p.Inputs
	checks := map[string]string{
		"region":                    `"eu-west-1"`,
		"profile":                   `"galerly-deploy"`,
		"skipCredentialsValidation": `true`,
		"endpoints":                 `[{"lambda":"http://127.0.0.1:4566","s3":"http://127.0.0.1:4566"}]`,
		"defaultTags":               `{"tags":{"team":"photos"}}`,
		"allowedAccountIds":         `["` + mockAccount + `"]`,
	}
	for k, want := range checks {
		got, _ := json.Marshal(in[resource.PropertyKey(k)].Mappable())
		if string(got) != want {
			t.Errorf("provider input %s = %s, want %s", k, got, want)
		}
	}
	if v := in["secretKey"]; !v.IsSecret() && !(v.IsOutput() && v.OutputValue().Secret) {
		t.Errorf("secretKey = %v, want it kept secret", v)
	}

	cfg["aws:assumeRole"] = `{"roleArn":"arn:aws:iam::123456789012:role/deploy"}`
	_, err := runProgram(t, run{config: cfg, secrets: []string{"aws:secretKey"}})
	if err == nil || !strings.Contains(err.Error(), "aws:assumeRole") || !strings.Contains(err.Error(), project+":layerRegions") {
		t.Errorf("aws:assumeRole with an extra region: %v, want it refused naming both keys", err)
	}
	// One region needs no other provider, so nothing needs carrying.
	delete(cfg, project+":layerRegions")
	if _, err := runProgram(t, run{config: cfg, secrets: []string{"aws:secretKey"}}); err != nil {
		t.Errorf("aws:assumeRole in a one-region stack: %v", err)
	}
}

// A preview of three regions and two architectures names six layer
// versions from two builds, with the keys exact before anything exists.
func TestPreviewSixVersions(t *testing.T) {
	m := mustRun(t, run{config: multiRegion(t, nil), preview: true})
	if n := len(m.ofType(typeLayerVer)); n != 6 {
		t.Errorf("preview: %d layer versions, want 6", n)
	}
	for _, arch := range testArchs {
		key := archKey(t, arch)
		if got := strList(t, m.find(t, typeCommand, pubName(arch, "us-east-1")+"-build"), "triggers"); got[0] != key {
			t.Errorf("preview: %s build triggers %v, want the key %s first", arch, got, key)
		}
		for _, region := range testRegions {
			lv := m.find(t, typeLayerVer, pubName(arch, region))
			if got := strValue(t, lv, "s3Key"); !strings.Contains(got, key) {
				t.Errorf("preview: %s s3Key %s, want the key %s", lv.Name, got, key)
			}
		}
	}
}

func TestRegionsConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"a region without a partition's form", map[string]string{"layerRegions": `["us-east-1","us-east"]`},
			[]string{project + ":layerRegions", `[1] "us-east" is not an AWS region name`}},
		{"capitals", map[string]string{"layerRegions": `["us-east-1","EU-WEST-1"]`}, []string{`"EU-WEST-1" is not an AWS region name`}},
		{"an availability zone", map[string]string{"layerRegions": `["us-east-1","eu-west-1a"]`}, []string{`"eu-west-1a" is not an AWS region name`}},
		{"an unknown prefix", map[string]string{"layerRegions": `["us-east-1","xx-west-1"]`}, []string{`"xx-west-1" is not an AWS region name`}},
		{"listed twice", map[string]string{"layerRegions": `["us-east-1","eu-west-1","eu-west-1"]`}, []string{project + ":layerRegions", "[2] eu-west-1 is listed twice"}},
		{"another partition", map[string]string{"layerRegions": `["us-east-1","cn-north-1"]`},
			[]string{"[1] cn-north-1 is in the aws-cn partition", "us-east-1 in aws"}},
		{"GovCloud beside aws", map[string]string{"layerRegions": `["us-east-1","us-gov-west-1"]`}, []string{"us-gov-west-1 is in the aws-us-gov partition"}},
		{"the stack's region left out", map[string]string{"layerRegions": `["eu-west-1"]`}, []string{"does not list us-east-1, the stack's region"}},
		{"not a list", map[string]string{"layerRegions": `eu-west-1`}, []string{project + ":layerRegions", "single string"}},
		{"function's architecture left out", map[string]string{"layerArchitectures": `["arm64"]`},
			[]string{project + ":layerArchitectures", "does not list x86_64, the function's architecture (" + project + ":architecture)"}},
		{"an unknown architecture", map[string]string{"layerArchitectures": `["x86_64","aarch64"]`}, []string{project + ":layerArchitectures", `"aarch64": want x86_64 or arm64`}},
		{"an architecture twice", map[string]string{"layerArchitectures": `["x86_64","arm64","arm64"]`}, []string{"[2] arm64 is listed twice"}},
		{"a layer name too long for the suffix", map[string]string{"layerArchitectures": `["x86_64","arm64"]`, "layerName": strings.Repeat("n", 60)},
			[]string{project + ":layerArchitectures", "the arm64 layer would be named", "over Lambda's 64 characters"}},
		{"a bucket for the stack's region", map[string]string{"layerRegions": `["us-east-1","eu-west-1"]`, "artifactsBuckets": `{"us-east-1":"galerly-x"}`},
			[]string{project + ":artifactsBuckets", "its bucket is " + project + ":artifactsBucket"}},
		{"a bucket for a region not listed", map[string]string{"layerRegions": `["us-east-1","eu-west-1"]`, "artifactsBuckets": `{"eu-central-1":"galerly-x"}`},
			[]string{"names eu-central-1, which is not among the extra regions"}},
		{"a bad bucket name", map[string]string{"layerRegions": `["us-east-1","eu-west-1"]`, "artifactsBuckets": `{"eu-west-1":"Galerly_X"}`},
			[]string{`eu-west-1: "Galerly_X" is not an S3 bucket name`}},
		{"one bucket for two regions", map[string]string{"layerRegions": `["us-east-1","eu-west-1","eu-north-1"]`, "artifactsBuckets": `{"eu-west-1":"galerly-x","eu-north-1":"galerly-x"}`},
			[]string{"both name galerly-x"}},
		{"buckets not a map", map[string]string{"layerRegions": `["us-east-1","eu-west-1"]`, "artifactsBuckets": `galerly-x`},
			[]string{project + ":artifactsBuckets", "is not a map from region to bucket name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := runProgram(t, run{config: prodConfig(t, tc.set)})
			if err == nil {
				t.Fatal("accepted")
			}
			var problems configProblems
			if !errors.As(err, &problems) && !strings.Contains(err.Error(), "config ") {
				t.Errorf("not a config error: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if n := len(m.names()); n != 0 {
				t.Errorf("declared %d resources before refusing", n)
			}
		})
	}

	t.Run("no aws:region", func(t *testing.T) {
		cfg := prodConfig(t, map[string]string{"layerRegions": `["us-east-1","eu-west-1"]`})
		delete(cfg, "aws:region")
		_, err := runProgram(t, run{config: cfg})
		if err == nil || !strings.Contains(err.Error(), "aws:region is not") {
			t.Errorf("layerRegions without aws:region: %v", err)
		}
	})
}

// Every partition's region form is accepted, in its own partition.
func TestRegionPartitions(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1": "aws", "eu-west-1": "aws", "ap-southeast-7": "aws", "il-central-1": "aws", "mx-central-1": "aws", "ca-west-1": "aws",
		"cn-north-1": "aws-cn", "cn-northwest-1": "aws-cn",
		"us-gov-west-1": "aws-us-gov", "us-gov-east-1": "aws-us-gov",
		"us-iso-east-1": "aws-iso", "us-isob-east-1": "aws-iso-b", "eu-isoe-west-1": "aws-iso-e", "us-isof-south-1": "aws-iso-f",
		"eusc-de-east-1": "aws-eusc",
	} {
		if got, ok := regionPartition(region); !ok || got != want {
			t.Errorf("regionPartition(%s) = %s, %v; want %s", region, got, ok, want)
		}
		// The ARNs the program writes (basic execution, photos) use the same rule.
		if got := partition(region); got != want {
			t.Errorf("partition(%s) = %s, want %s", region, got, want)
		}
		// A whole stack in that partition accepts it beside another of its regions.
		cfg := prodConfig(t, map[string]string{"layerRegions": `["` + region + `"]`})
		cfg["aws:region"] = region
		if _, err := loadWith(t, cfg, "."); err != nil {
			t.Errorf("a stack in %s: %v", region, err)
		}
	}
	for _, bad := range []string{"", "us-east", "us-east-1a", "useast1", "us_east_1", "aws-global", "local"} {
		if p, ok := regionPartition(bad); ok {
			t.Errorf("regionPartition(%q) = %s, want no partition", bad, p)
		}
		if p := partition(bad); p != "aws" {
			t.Errorf("partition(%q) = %s, want the default aws", bad, p)
		}
	}
}

// Lambda's five layers per function are counted at preview: the stack's
// layer is one, whatever the number of architectures it is built for.
func TestFiveLayersWithSeveralArchitectures(t *testing.T) {
	arn := func(i int) string {
		return fmt.Sprintf(`"arn:aws:lambda:us-east-1:%s:layer:extra-%d:3"`, shareAccount, i)
	}
	four := "[" + strings.Join([]string{arn(1), arn(2), arn(3), arn(4)}, ",") + "]"
	m := mustRun(t, run{config: multiRegion(t, map[string]string{"extraLayerArns": four})})
	if got := strList(t, m.find(t, typeFunction, apiName), "layers"); len(got) != 5 || !strings.Contains(got[0], ":layer:"+layerName+":") {
		t.Errorf("function layers %v, want the stack's x86_64 layer and the four extra ones", got)
	}
	five := "[" + strings.Join([]string{arn(1), arn(2), arn(3), arn(4), arn(5)}, ",") + "]"
	_, err := runProgram(t, run{config: multiRegion(t, map[string]string{"extraLayerArns": five})})
	if err == nil || !strings.Contains(err.Error(), "at most 5 layers") {
		t.Errorf("six layers: %v, want Lambda's limit named", err)
	}
}

// The local stack with a second region: that region's provider goes to
// the same emulator (the stack's aws:endpoints and its other settings),
// and so do its copy steps.
func TestLocalStackSecondRegion(t *testing.T) {
	cfg := stackConfig(t, localStack)
	cfg[project+":layerRegions"] = `["us-east-1","eu-west-1"]`
	m := mustRun(t, run{config: cfg, stack: localStack})
	p := m.find(t, typeAWSProvider, "aws-eu-west-1")
	endpoints, _ := json.Marshal(p.Inputs["endpoints"].Mappable())
	if !strings.Contains(string(endpoints), `"s3":"http://127.0.0.1:4566"`) || !strings.Contains(string(endpoints), `"lambda":"http://127.0.0.1:4566"`) {
		t.Errorf("eu-west-1 provider endpoints %s, want the local stack's emulator", endpoints)
	}
	for _, k := range []string{"s3UsePathStyle", "skipCredentialsValidation", "skipRequestingAccountId", "skipMetadataApiCheck"} {
		if v := p.Inputs[resource.PropertyKey(k)]; !v.IsBool() || !v.BoolValue() {
			t.Errorf("eu-west-1 provider %s = %v, want true as the local stack sets it", k, v)
		}
	}
	cp := m.find(t, typeCommand, layerName+"-eu-west-1-copy")
	env := cp.Inputs["environment"].ObjectValue()
	if env["AWS_ENDPOINT_URL"].StringValue() != "http://127.0.0.1:4566" || env["AWS_REGION"].StringValue() != "eu-west-1" {
		t.Errorf("copy step environment %v, want the emulator and eu-west-1", env)
	}
}

// Two architectures in the stack's region alone, with aws:region left to
// the environment: no provider is added, and the outputs name the region
// the versions' ARNs give.
func TestArchitecturesWithoutARegion(t *testing.T) {
	cfg := prodConfig(t, map[string]string{"layerArchitectures": `["arm64","x86_64"]`})
	delete(cfg, "aws:region")
	out, m := exportedAndMocks(t, run{config: cfg})
	if n := len(m.ofType(typeAWSProvider)); n != 0 {
		t.Errorf("%d explicit providers, want none in one region", n)
	}
	if n := len(m.ofType(typeLayerVer)); n != 2 {
		t.Errorf("%d layer versions, want 2: %v", n, m.names())
	}
	want := map[string]map[string]string{"us-east-1": {
		"arm64":  "arn:aws:lambda:us-east-1:" + mockAccount + ":layer:" + layerName + "-arm64:1",
		"x86_64": "arn:aws:lambda:us-east-1:" + mockAccount + ":layer:" + layerName + ":1",
	}}
	if got := fmt.Sprint(out["layerArns"]); got != fmt.Sprint(want) {
		t.Errorf("layerArns = %s, want %v", got, want)
	}
}

// BenchmarkPreviewSixVersions is BenchmarkPreview for three regions and
// two architectures: two keys instead of one, and the graph of six layer
// versions, four copies and two providers and buckets more.
func BenchmarkPreviewSixVersions(b *testing.B) {
	regions, _ := json.Marshal(testRegions)
	archs, _ := json.Marshal(testArchs)
	cfg := stackConfig(b, "prod")
	cfg[project+":layerRegions"] = string(regions)
	cfg[project+":layerArchitectures"] = string(archs)
	for b.Loop() {
		m, err := runProgram(b, run{config: cfg, preview: true})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(m.ofType(typeLayerVer)); n != 6 {
			b.Fatalf("the preview declared %d layer versions, want 6", n)
		}
	}
}

// The prod lock pins wheels for arm64 too, for each runtime: prod can add
// arm64 to layerArchitectures without a new lock.
func TestProdLockFitsArm64(t *testing.T) {
	tg := prodTarget(t)
	tg.Arch = target.ARM64
	want := lockPins(t, "locks/image-processing.txt", tg)
	picked, refused := selectLock(t, "locks/image-processing.txt", tg)
	for name, err := range refused {
		t.Errorf("%s on %s: %v", name, tg, err)
	}
	if len(picked) != len(want) {
		t.Errorf("selected %d packages for %s, want all %d the lock pins", len(picked), tg, len(want))
	}
	for name, sel := range picked {
		for _, r := range tg.Runtimes {
			if _, ok := sel.PerRuntime[r]; sel.Shared == nil && !ok {
				t.Errorf("%s: no arm64 wheel for %s", name, r)
			}
		}
		t.Logf("%s: %s", name, sel.Why)
	}
}
