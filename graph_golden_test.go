package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/lock"
)

// The prod stack's graph is kept in testdata/prod-graph.json, as main's
// program declared it before layerRegions and layerArchitectures existed:
// every resource's URN, type, parent, provider, dependencies, replacement
// options and inputs. An upgrade that changes any of them for a stack that
// sets neither key would show the prod stack a replacement (a URN) or an
// update (an input) on its first preview after the change lands.
//
// testdata/prod-shared-graph.json is the same with the layer shared (an
// account and an organization), for the permissions' URNs and inputs.
//
// A deliberate change to the prod graph rewrites the files:
//
//	go test -run TestProdGraphUnchanged -update .
//
// and their diff is then the change to review.

var updateGolden = flag.Bool("update", false, "rewrite testdata/prod-*graph.json from the program's current prod graph")

// prodGraphs are the recorded graphs: the golden file and what the prod
// stack's config gets beside Pulumi.prod.yaml.
func prodGraphs() []struct {
	file string
	set  map[string]string
} {
	return []struct {
		file string
		set  map[string]string
	}{
		{"testdata/prod-graph.json", nil},
		{"testdata/prod-shared-graph.json", map[string]string{
			"layerShareAccounts":     `["` + shareAccount + `","` + shareOther + `"]`,
			"layerShareOrganization": shareOrg,
		}},
	}
}

// graphNode is one resource of a recorded graph.
type graphNode struct {
	URN                 string   `json:"urn"`
	Type                string   `json:"type"`
	Parent              string   `json:"parent,omitempty"`
	Provider            string   `json:"provider,omitempty"`
	DependsOn           []string `json:"dependsOn,omitempty"`
	DeleteBeforeReplace bool     `json:"deleteBeforeReplace,omitempty"`
	ReplaceOnChanges    []string `json:"replaceOnChanges,omitempty"`
	RetainOnDelete      bool     `json:"retainOnDelete,omitempty"`
	Inputs              any      `json:"inputs"`
}

// recordGraph renders what m recorded as JSON nodes sorted by URN. The
// layer key (and its 12-hex prefix in the description), the code key and
// the versions of the layer's pins are replaced by <layerKey>, <codeKey>
// and <version>: they follow the lock and app/, whose content other
// changes may change without touching the graph's shape, and tests
// elsewhere check them.
func recordGraph(t *testing.T, m *mocks, layerKey, codeKey string, pins []string) []byte {
	t.Helper()
	nodes := make([]graphNode, 0, len(m.resources))
	for _, r := range m.resources {
		deps := slices.Clone(r.Deps)
		slices.Sort(deps)
		rc := slices.Clone(r.ReplaceOnChanges)
		slices.Sort(rc)
		nodes = append(nodes, graphNode{
			URN: r.URN, Type: r.Type, Parent: r.Parent, Provider: r.Provider, DependsOn: deps,
			DeleteBeforeReplace: r.DeleteBeforeReplace, ReplaceOnChanges: rc, RetainOnDelete: r.RetainOnDelete,
			Inputs: r.Inputs.Mappable(),
		})
	}
	slices.SortFunc(nodes, func(a, b graphNode) int { return strings.Compare(a.URN, b.URN) })
	data, err := json.MarshalIndent(nodes, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte(layerKey), []byte("<layerKey>"))
	data = bytes.ReplaceAll(data, []byte(layerKey[:12]), []byte("<layerKey>"))
	data = bytes.ReplaceAll(data, []byte(codeKey), []byte("<codeKey>"))
	for _, pin := range pins {
		name, _, _ := strings.Cut(pin, "==")
		data = bytes.ReplaceAll(data, []byte(pin), []byte(name+"==<version>"))
	}
	return append(data, '\n')
}

// prodGraph runs the program on cfg (the prod stack's config, perhaps with
// keys added) and records its graph.
func prodGraph(t *testing.T, cfg map[string]string) []byte {
	t.Helper()
	key, err := build.LayerKey("locks/image-processing.txt", prodTarget(t), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lock.ReadFile("locks/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	return recordGraph(t, mustRun(t, run{config: cfg}), key, prodCodeKey(t, "."), lock.Pins(l, prodTarget(t)))
}

// prodConfig is the prod stack's config with set (keys without the
// namespace) added.
func prodConfig(t *testing.T, set map[string]string) map[string]string {
	t.Helper()
	cfg := stackConfig(t, "prod")
	for k, v := range set {
		cfg[project+":"+k] = v
	}
	return cfg
}

func TestProdGraphUnchanged(t *testing.T) {
	for _, g := range prodGraphs() {
		t.Run(g.file, func(t *testing.T) {
			got := prodGraph(t, prodConfig(t, g.set))
			if *updateGolden {
				if err := os.WriteFile(g.file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(g.file)
			if err != nil {
				t.Fatal(err)
			}
			compareGraphs(t, g.file, want, got)
		})
	}
}

// compareGraphs reports, per URN, the resources only one of two recorded
// graphs has and the fields that differ.
func compareGraphs(t *testing.T, what string, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	index := func(data []byte) map[string]json.RawMessage {
		var nodes []json.RawMessage
		if err := json.Unmarshal(data, &nodes); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out := map[string]json.RawMessage{}
		for _, n := range nodes {
			var head struct {
				URN string `json:"urn"`
			}
			if err := json.Unmarshal(n, &head); err != nil {
				t.Fatal(err)
			}
			out[head.URN] = n
		}
		return out
	}
	w, g := index(want), index(got)
	for urn, wn := range w {
		gn, ok := g[urn]
		switch {
		case !ok:
			t.Errorf("%s: %s is gone (a delete, or a replacement under a new URN)", what, urn)
		case !bytes.Equal(compactJSON(t, wn), compactJSON(t, gn)):
			t.Errorf("%s: %s differs:\n was %s\n now %s", what, urn, compactJSON(t, wn), compactJSON(t, gn))
		}
	}
	for urn := range g {
		if _, ok := w[urn]; !ok {
			t.Errorf("%s: %s is new", what, urn)
		}
	}
	if !t.Failed() {
		t.Errorf("%s: same resources, different text (order or layout); rewrite it with -update", what)
	}
}

func compactJSON(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
