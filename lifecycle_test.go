package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The layer's lifecycle as a shared product: versions kept when a new one
// replaces them, shared with other accounts, one permission per principal
// on each version.

const (
	shareAccount = "111122223333"
	shareOther   = "444455556666"
	shareOrg     = "o-a1b2c3d4e5"
)

// boolInput returns r's boolean input key, and whether it is set.
func boolInput(t *testing.T, r registered, key string) (value, set bool) {
	t.Helper()
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok || v.IsNull() {
		return false, false
	}
	if !v.IsBool() {
		t.Fatalf("%s::%s input %s = %v, want a boolean", r.Type, r.Name, key, v)
	}
	return v.BoolValue(), true
}

// ofType returns every registered resource of type typ, in registration
// order.
func (m *mocks) ofType(typ string) []registered {
	var out []registered
	for _, r := range m.resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// With the defaults a new lock publishes a new layer version and the old
// one stays in Lambda. The engine's part of that is not observable under
// mocks, so this checks the inputs and options it follows: pulumi-aws
// gives a LayerVersion no update (every input, skipDestroy included,
// forces a new version), Pulumi creates a replacement before deleting the
// old resource unless deleteBeforeReplace is set, and the provider's
// delete of a version with skipDestroy returns without calling Lambda.
func TestLayerVersionsKept(t *testing.T) {
	data, err := os.ReadFile("locks/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	cfg := stackConfig(t, "prod")
	before := mustRun(t, run{config: cfg, root: copyProject(t, string(data))})
	after := mustRun(t, run{config: cfg, root: copyProject(t, bumpNumpy(t, string(data))), layerVersion: "2"})
	old, replacement := before.find(t, typeLayerVer, layerName), after.find(t, typeLayerVer, layerName)

	for _, lv := range []registered{old, replacement} {
		if keep, set := boolInput(t, lv, "skipDestroy"); !set || !keep {
			t.Errorf("skipDestroy = %v (set %v), want true: replacing the version would delete the old one", keep, set)
		}
		if lv.DeleteBeforeReplace {
			t.Errorf("deleteBeforeReplace is set: the old version would go before the new one exists")
		}
		if lv.RetainOnDelete {
			t.Errorf("retainOnDelete is set; the provider's skipDestroy is what keeps versions")
		}
	}
	// One resource, whose new s3Key (a new key) replaces it: a new
	// version, not a second resource beside the first.
	if old.Parent != replacement.Parent {
		t.Errorf("parent %s -> %s: the version would be a new resource, not a replacement", old.Parent, replacement.Parent)
	}
	if strValue(t, old, "s3Key") == strValue(t, replacement, "s3Key") {
		t.Errorf("s3Key is unchanged by a new lock: no new version would be published")
	}
	// The function follows the new version.
	fn := after.find(t, typeFunction, apiName)
	if got := strList(t, fn, "layers"); len(got) == 0 || !strings.HasSuffix(got[0], ":"+layerName+":2") {
		t.Errorf("function layers = %v, want the new version 2 first", got)
	}

	t.Run("off", func(t *testing.T) {
		off := stackConfig(t, "prod")
		off[project+":keepLayerVersions"] = "false"
		lv := mustRun(t, run{config: off}).find(t, typeLayerVer, layerName)
		if _, set := boolInput(t, lv, "skipDestroy"); set {
			t.Errorf("keepLayerVersions false still sets skipDestroy: want it unset, the provider's default (delete the replaced version)")
		}
	})
}

// recordLog wraps ctx.Log so a test sees what the program logs.
type recordLog struct {
	pulumi.Log
	mu    sync.Mutex
	warns []string
}

func (l *recordLog) Warn(msg string, args *pulumi.LogArgs) error {
	l.mu.Lock()
	l.warns = append(l.warns, msg)
	l.mu.Unlock()
	return l.Log.Warn(msg, args)
}

// runLogged runs the program with cfg and returns its outputs, the mocks
// and the warnings it logged.
func runLogged(t *testing.T, r run) (map[string]any, *mocks, []string) {
	t.Helper()
	log := &recordLog{}
	out, m := exportedWith(t, r, func(ctx *pulumi.Context) {
		log.Log = ctx.Log
		ctx.Log = log
	})
	return out, m, log.warns
}

func TestLayerSharing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		accounts string // layerShareAccounts as the CLI passes it; "" unset
		org      string
		// want: resource name suffix -> principal, organization
		want       map[string][2]string
		sharedWith []string
		warn       bool
	}{
		{"not shared", "", "", nil, []string{}, false},
		{"two accounts", `["` + shareAccount + `","` + shareOther + `"]`, "", map[string][2]string{
			"account-" + shareAccount: {shareAccount, ""},
			"account-" + shareOther:   {shareOther, ""},
		}, []string{shareAccount, shareOther}, false},
		{"an organization", "", shareOrg, map[string][2]string{
			"organization-" + shareOrg: {"*", shareOrg},
		}, []string{shareOrg}, false},
		{"public, an account and an organization", `["*","` + shareAccount + `"]`, shareOrg, map[string][2]string{
			"public":                   {"*", ""},
			"account-" + shareAccount:  {shareAccount, ""},
			"organization-" + shareOrg: {"*", shareOrg},
		}, []string{"*", shareAccount, shareOrg}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			if tc.accounts != "" {
				cfg[project+":layerShareAccounts"] = tc.accounts
			}
			if tc.org != "" {
				cfg[project+":layerShareOrganization"] = tc.org
			}
			out, m, warns := runLogged(t, run{config: cfg, layerVersion: "4"})

			perms := m.ofType(typeLayerPerm)
			if len(perms) != len(tc.want) {
				t.Fatalf("%d layer version permissions, want %d: %v", len(perms), len(tc.want), m.names())
			}
			for _, p := range perms {
				id, ok := strings.CutPrefix(p.Name, layerName+"-share-")
				who, known := tc.want[id]
				if !ok || !known {
					t.Errorf("permission %s, want one named %s-share-<statement id> of %v", p.Name, layerName, tc.want)
					continue
				}
				if got := strValue(t, p, "statementId"); got != id {
					t.Errorf("%s: statementId %s, want %s (one statement per principal)", p.Name, got, id)
				}
				if got := strValue(t, p, "principal"); got != who[0] {
					t.Errorf("%s: principal %s, want %s", p.Name, got, who[0])
				}
				org := p.Inputs["organizationId"]
				if (who[1] == "" && org.HasValue()) || (who[1] != "" && (!org.IsString() || org.StringValue() != who[1])) {
					t.Errorf("%s: organizationId %v, want %q", p.Name, org, who[1])
				}
				if got := strValue(t, p, "action"); got != "lambda:GetLayerVersion" {
					t.Errorf("%s: action %s, want lambda:GetLayerVersion, the one action using a layer takes", p.Name, got)
				}
				if got := strValue(t, p, "layerName"); got != layerName {
					t.Errorf("%s: layerName %s, want %s", p.Name, got, layerName)
				}
				// On the version this update published, and from it.
				if v := p.Inputs["versionNumber"]; !v.IsNumber() || v.NumberValue() != 4 {
					t.Errorf("%s: versionNumber %v, want 4, the published version", p.Name, v)
				}
				if !p.inputFrom("versionNumber", typeLayerVer, layerName) {
					t.Errorf("%s: versionNumber does not come from the layer version", p.Name)
				}
				if !slices.Equal(p.ReplaceOnChanges, []string{"versionNumber"}) {
					t.Errorf("%s: replaceOnChanges %v, want [versionNumber]: a new version replaces the permission", p.Name, p.ReplaceOnChanges)
				}
				if keep, _ := boolInput(t, p, "skipDestroy"); !keep {
					t.Errorf("%s: skipDestroy unset: a kept version would lose its grant when the next version replaces it", p.Name)
				}
				if !isURN(p.Parent, typeLayer, layerName) {
					t.Errorf("%s: parent %s, want the layer component", p.Name, p.Parent)
				}
			}
			if got := fmt.Sprint(out["layerSharedWith"]); got != fmt.Sprint(tc.sharedWith) {
				t.Errorf("layerSharedWith = %s, want %v", got, tc.sharedWith)
			}
			var public []string
			for _, w := range warns {
				if strings.Contains(w, "public") {
					public = append(public, w)
				}
			}
			if tc.warn && (len(public) != 1 || !strings.Contains(public[0], project+":layerShareAccounts") || !strings.Contains(public[0], `"*"`)) {
				t.Errorf("warnings %q, want one saying the layer is public, naming %s:layerShareAccounts and \"*\"", warns, project)
			}
			if !tc.warn && len(public) > 0 {
				t.Errorf("warned %q, but the layer is not public", public)
			}
		})
	}
}

// Each new version gets its own permissions: the same resources, one per
// principal, now on the new version's number, which replaces them.
func TestLayerPermissionsFollowTheVersion(t *testing.T) {
	data, err := os.ReadFile("locks/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	cfg := stackConfig(t, "prod")
	cfg[project+":layerShareAccounts"] = `["` + shareAccount + `"]`
	cfg[project+":layerShareOrganization"] = shareOrg
	before := mustRun(t, run{config: cfg, root: copyProject(t, string(data)), layerVersion: "4"})
	after := mustRun(t, run{config: cfg, root: copyProject(t, bumpNumpy(t, string(data))), layerVersion: "5"})
	changed := changedInputs(inputsByResource(before), inputsByResource(after))
	for _, suffix := range []string{"account-" + shareAccount, "organization-" + shareOrg} {
		name := layerName + "-share-" + suffix
		res := typeLayerPerm + "::" + name
		var diff []string
		for _, c := range changed {
			if strings.HasPrefix(c, res+" ") || strings.HasPrefix(c, res+" (") {
				diff = append(diff, strings.TrimPrefix(c, res+" "))
			}
		}
		if !slices.Equal(diff, []string{"versionNumber"}) {
			t.Errorf("%s: changed %v, want only versionNumber (4 -> 5)", name, diff)
		}
		if v := after.find(t, typeLayerPerm, name).Inputs["versionNumber"]; v.NumberValue() != 5 {
			t.Errorf("%s: versionNumber %v, want 5", name, v)
		}
	}

	// Without keepLayerVersions, a replaced version's grants go with it.
	cfg[project+":keepLayerVersions"] = "false"
	for _, p := range mustRun(t, run{config: cfg}).ofType(typeLayerPerm) {
		if _, set := boolInput(t, p, "skipDestroy"); set {
			t.Errorf("%s: skipDestroy set with keepLayerVersions false", p.Name)
		}
	}
}

// In a preview of a changed lock the new version's number is not known:
// the permissions then show as replaced (replaceOnChanges on an unknown
// number), never as kept on the old version.
func TestPreviewReplacesPermissions(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[project+":artifactsBucket"] = "galerly-artifacts"
	cfg[project+":layerShareAccounts"] = `["` + shareAccount + `"]`
	m := mustRun(t, run{config: cfg, preview: true})
	p := m.find(t, typeLayerPerm, layerName+"-share-account-"+shareAccount)
	if !slices.Equal(p.Unknown, []string{"versionNumber"}) {
		t.Errorf("preview: unknown permission inputs %v, want only versionNumber", p.Unknown)
	}
	if !slices.Contains(p.ReplaceOnChanges, "versionNumber") {
		t.Errorf("replaceOnChanges %v: an unknown version number would not show as a replacement", p.ReplaceOnChanges)
	}
}

func TestLayerGrant(t *testing.T) {
	for _, tc := range []struct {
		g          LayerGrant
		id, who    string
		public     bool
		configured SharingConfig
	}{
		{accountGrant(shareAccount), "account-" + shareAccount, shareAccount, false, SharingConfig{Accounts: []string{shareAccount}}},
		{publicGrant(), "public", "*", true, SharingConfig{Accounts: []string{"*"}}},
		{organizationGrant(shareOrg), "organization-" + shareOrg, shareOrg, false, SharingConfig{Organization: shareOrg}},
	} {
		if got := tc.g.StatementID(); got != tc.id {
			t.Errorf("%+v: statement ID %s, want %s", tc.g, got, tc.id)
		}
		if got := tc.g.Who(); got != tc.who {
			t.Errorf("%+v: who %s, want %s", tc.g, got, tc.who)
		}
		if tc.g.Public() != tc.public {
			t.Errorf("%+v: public %v, want %v", tc.g, tc.g.Public(), tc.public)
		}
		if got := tc.configured.Grants(); !slices.Equal(got, []LayerGrant{tc.g}) {
			t.Errorf("%+v.Grants() = %+v, want [%+v]", tc.configured, got, tc.g)
		}
		// Statement IDs are what AddLayerVersionPermission accepts.
		if len(tc.id) > 100 || strings.Trim(tc.id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			t.Errorf("statement ID %q: Lambda wants 1 to 100 of [a-zA-Z0-9-_]", tc.id)
		}
	}
}
