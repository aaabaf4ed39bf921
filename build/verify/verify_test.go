package verify

import (
	"fmt"
	"strings"
	"testing"
)

const (
	acct    = "123456789012"
	layerV  = "arn:aws:lambda:us-east-1:123456789012:layer:galerly-image-processing:"
	otherV  = "arn:aws:lambda:us-east-1:999999999999:layer:galerly-image-processing:"
	fnARN   = "arn:aws:lambda:us-east-1:123456789012:function:galerly-api-prod:live"
	mib     = 1 << 20
	limitMB = 262_144_000
)

func mustARN(t *testing.T, s string) LayerARN {
	t.Helper()
	a, err := ParseLayerARN(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// healthy is the production shape after a good deploy: galerly-api-prod:live
// on python3.11/x86_64 using version 4, the newest, of the layer built for
// python3.11 and python3.12.
func healthy(t *testing.T) Facts {
	expected := mustARN(t, layerV+"4")
	return Facts{
		Function: Function{
			Name: "galerly-api-prod", Qualifier: "live", ARN: fnARN, Version: "7",
			Runtime: "python3.11", Architectures: []string{"x86_64"}, PackageType: "Zip",
			CodeSize: 12_345, State: "Active", LastUpdateStatus: "Successful",
			Layers: []AttachedLayer{{ARN: layerV + "4", CodeSize: 40 * mib}},
		},
		Expected: expected,
		ExpectedVersion: &LayerVersion{ARN: expected, CompatibleRuntimes: []string{"python3.11", "python3.12"},
			CompatibleArchitectures: []string{"x86_64"}},
		Versions: []int64{4},
	}
}

func byCheck(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Check] = r
	}
	return m
}

// Each case is a deployed state an engineer meets; the verdict of each named
// check and the text (finding and fix) a person reads are what they rely on.
func TestCheck(t *testing.T) {
	type want struct {
		status Status
		text   []string // substrings of the printed line
	}
	cases := []struct {
		name   string
		change func(f *Facts)
		want   map[string]want
		failed bool
	}{
		{"healthy", func(f *Facts) {}, map[string]want{
			"state":          {OK, []string{"ok   state: galerly-api-prod:live is version 7, Active, last update Successful"}},
			"layers":         {OK, []string{"ok   layers: " + layerV + "4"}},
			"expected layer": {OK, []string{"version 4 of galerly-image-processing is attached"}},
			"newest layer":   {OK, []string{"uses version 4, the newest"}},
			"runtime":        {OK, []string{"python3.11 is one of layer version 4's compatible runtimes (python3.11, python3.12)"}},
			"architecture":   {OK, []string{"x86_64 is one of"}},
			"code size":      {OK, []string{"41,955,385 bytes zipped (function 12,345 + 1 layer 41,943,040)", "262,144,000-byte limit is on the unzipped size, which lambdapack checks at build time"}},
		}, false},
		{"no layer", func(f *Facts) { f.Function.Layers = nil }, map[string]want{
			"layers":         {Fail, []string{"galerly-api-prod:live has no layers attached; the stack attaches " + layerV + "4: run pulumi up"}},
			"expected layer": {Fail, []string{"uses no version of layer galerly-image-processing, stack output is version 4: run pulumi up"}},
			"newest layer":   {Skip, []string{"uses no version of galerly-image-processing"}},
			"code size":      {OK, []string{"function 12,345 + 0 layers 0"}},
		}, true},
		{"older version while a newer exists", func(f *Facts) {
			f.Function.Qualifier = ""
			f.Function.Layers[0].ARN = layerV + "3"
			f.Versions = []int64{3, 4}
		}, map[string]want{
			"expected layer": {Fail, []string{"FAIL expected layer: function points at layer version 3, stack output is version 4: run pulumi up"}},
			"newest layer":   {Fail, []string{"galerly-image-processing has version 4, the function uses 3: run pulumi up"}},
			"runtime":        {OK, nil},
		}, true},
		{"behind the alias, the fix names the smoke test", func(f *Facts) {
			f.Function.Layers[0].ARN = layerV + "3"
			f.Versions = []int64{3, 4}
		}, map[string]want{
			"expected layer": {Fail, []string{"run pulumi up (if it ran and live did not move, the new version failed its smoke test"}},
		}, true},
		{"newer version published outside the stack", func(f *Facts) { f.Versions = []int64{4, 5} }, map[string]want{
			"expected layer": {OK, nil},
			"newest layer":   {Fail, []string{"has version 5, newer than the stack output (4)", "aws lambda delete-layer-version --layer-name galerly-image-processing --version-number 5"}},
		}, true},
		{"function ahead of the stack output", func(f *Facts) {
			f.Function.Layers[0].ARN = layerV + "5"
			f.Versions = []int64{4, 5}
		}, map[string]want{
			"expected layer": {Fail, []string{"points at layer version 5, stack output is version 4", "pulumi refresh, then pulumi up"}},
			"newest layer":   {OK, nil},
		}, true},
		{"expected version deleted", func(f *Facts) {
			f.ExpectedVersion = nil
			f.Versions = nil
		}, map[string]want{
			"expected layer": {Fail, []string{"is attached but was deleted", "pulumi refresh, then pulumi up"}},
			"newest layer":   {Skip, nil},
			"runtime":        {Skip, []string{"does not exist to compare with"}},
			"architecture":   {Skip, nil},
		}, true},
		{"expected version never published", func(f *Facts) {
			f.Expected = mustARN(t, layerV+"9")
			f.ExpectedVersion = nil
		}, map[string]want{
			"expected layer": {Fail, []string{layerV + "9 does not exist (deleted, or never published here); the function uses version 4", "pulumi stack output layerArn"}},
			"newest layer":   {OK, nil},
			"runtime":        {Skip, nil},
		}, true},
		{"same layer name in another account", func(f *Facts) { f.Function.Layers[0].ARN = otherV + "4" }, map[string]want{
			"layers":         {OK, []string{otherV + "4"}},
			"expected layer": {Fail, []string{"uses no version of layer galerly-image-processing"}},
		}, true},
		{"another layer beside the expected one", func(f *Facts) {
			f.Function.Layers = append(f.Function.Layers, AttachedLayer{ARN: "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:53", CodeSize: 5 * mib})
		}, map[string]want{
			"layers":         {OK, []string{layerV + "4, arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:53"}},
			"expected layer": {OK, nil},
			"code size":      {OK, []string{"+ 2 layers 47,185,920"}},
		}, false},
		{"incompatible runtime", func(f *Facts) { f.Function.Runtime = "python3.9" }, map[string]want{
			"runtime": {Fail, []string{"the function runs python3.9, layer version 4 is built for python3.11, python3.12", "set galerly-lambda:functionRuntime to one of those, or add python3.9 to galerly-lambda:layerRuntimes"}},
		}, true},
		{"container image", func(f *Facts) {
			f.Function.Runtime, f.Function.PackageType, f.Function.CodeSize = "", "Image", 0
		}, map[string]want{
			"runtime":   {Fail, []string{"no runtime (package type Image)"}},
			"code size": {Skip, nil},
		}, true},
		{"incompatible architecture", func(f *Facts) { f.Function.Architectures = []string{"arm64"} }, map[string]want{
			"architecture": {Fail, []string{"runs on arm64, layer version 4 is built for x86_64"}},
		}, true},
		{"no architecture set means x86_64", func(f *Facts) { f.Function.Architectures = nil }, map[string]want{
			"architecture": {OK, []string{"x86_64 is one of"}},
		}, false},
		{"layer declares nothing", func(f *Facts) {
			f.ExpectedVersion.CompatibleRuntimes, f.ExpectedVersion.CompatibleArchitectures = nil, nil
		}, map[string]want{
			"runtime":      {Skip, []string{"declares no compatible runtimes"}},
			"architecture": {Skip, []string{"declares no compatible architectures"}},
		}, false},
		{"zipped over the limit", func(f *Facts) { f.Function.Layers[0].CodeSize = limitMB }, map[string]want{
			"code size": {Fail, []string{"262,156,345 bytes zipped", "over Lambda's 262,144,000-byte limit, and unzipped it is larger still"}},
		}, true},
		{"zipped exactly at the limit", func(f *Facts) { f.Function.CodeSize, f.Function.Layers[0].CodeSize = 0, limitMB }, map[string]want{
			"code size": {OK, nil},
		}, false},
		{"six layers", func(f *Facts) {
			for i := range 5 {
				f.Function.Layers = append(f.Function.Layers, AttachedLayer{ARN: fmt.Sprintf("arn:aws:lambda:us-east-1:%s:layer:extra%d:1", acct, i)})
			}
		}, map[string]want{
			"layers": {Fail, []string{"6 attached, Lambda allows 5"}},
		}, true},
		{"failed state", func(f *Facts) { f.Function.State, f.Function.StateReason = "Failed", "The role cannot be assumed" }, map[string]want{
			"state": {Fail, []string{"galerly-api-prod:live is Failed: The role cannot be assumed"}},
		}, true},
		{"failed update", func(f *Facts) {
			f.Function.LastUpdateStatus, f.Function.LastUpdateStatusReason = "Failed", "Layer conversion failed"
		}, map[string]want{
			"state": {Fail, []string{"the last update of galerly-api-prod:live failed: Layer conversion failed"}},
		}, true},
		{"update in progress", func(f *Facts) { f.Function.LastUpdateStatus = "InProgress" }, map[string]want{
			"state": {Fail, []string{"still being updated", "run verify again"}},
		}, true},
		{"idle function is fine", func(f *Facts) { f.Function.State = "Inactive" }, map[string]want{
			"state": {OK, []string{"next invocation reactivates it"}},
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := healthy(t)
			c.change(&f)
			rs := Check(f)
			if len(rs) != len(checks) {
				t.Fatalf("got %d results, want %d", len(rs), len(checks))
			}
			got := byCheck(rs)
			for name, w := range c.want {
				r, ok := got[name]
				if !ok {
					t.Fatalf("no %q result in %v", name, rs)
				}
				line := r.String()
				if r.Status != w.status {
					t.Errorf("%s: status %s, want %s: %s", name, r.Status, w.status, line)
				}
				for _, s := range w.text {
					if !strings.Contains(line, s) {
						t.Errorf("%s: line %q lacks %q", name, line, s)
					}
				}
				if (r.Status == Fail) != (r.Fix != "") {
					t.Errorf("%s: a failure must say the fix, and only a failure: %q", name, line)
				}
			}
			if Failed(rs) != c.failed {
				t.Errorf("Failed = %v, want %v:\n%v", Failed(rs), c.failed, rs)
			}
		})
	}
}

func TestParseLayerARN(t *testing.T) {
	cases := []struct {
		in      string
		want    LayerARN
		wantErr string
	}{
		{in: layerV + "4", want: LayerARN{"aws", "us-east-1", acct, "galerly-image-processing", 4}},
		{in: "arn:aws-cn:lambda:cn-north-1:123456789012:layer:x_y:12", want: LayerARN{"aws-cn", "cn-north-1", acct, "x_y", 12}},
		{in: "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:layer:a:1", want: LayerARN{"aws-us-gov", "us-gov-west-1", acct, "a", 1}},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:galerly-image-processing", wantErr: "has no version"},
		{in: layerV + "0", wantErr: "not a positive number"},
		{in: layerV + "04", wantErr: "not a positive number"},
		{in: layerV + "latest", wantErr: "not a positive number"},
		{in: "arn:aws:lambda:us-east-1:1234:layer:x:1", wantErr: "not 12 digits"},
		{in: "arn:aws:lambda:useast:123456789012:layer:x:1", wantErr: "not a region name"},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:bad.name:1", wantErr: "layer name"},
		{in: "arn:gcp:lambda:us-east-1:123456789012:layer:x:1", wantErr: "not an AWS partition"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:galerly-api-prod:live", wantErr: "want arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION"},
		{in: "galerly-image-processing:4", wantErr: "want arn:aws:lambda"},
		{in: "", wantErr: "want arn:aws:lambda"},
	}
	for _, c := range cases {
		got, err := ParseLayerARN(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.in)) {
				t.Errorf("ParseLayerARN(%q) = %v, %v; want an error naming it and containing %q", c.in, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseLayerARN(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if got.String() != c.in {
			t.Errorf("String() = %q, want the input %q back", got.String(), c.in)
		}
	}
	a, b := mustARN(t, layerV+"3"), mustARN(t, layerV+"4")
	if !a.SameLayer(b) || a.SameLayer(mustARN(t, otherV+"3")) {
		t.Error("SameLayer must compare partition, region, account and name, not the version")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 262_144_000: "262,144,000", -1234: "-1,234", 1_000_000_000_000: "1,000,000,000,000"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
