package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/internal/cdxschema"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// A layer of real PyPI wheels, the ones CPython bundles for ensurepip
// (pip and setuptools, found through the interpreter's own ensurepip),
// gets an SBOM with each wheel, its lock sha256, its declared license
// (pip: the License field; setuptools: its classifier) and its license
// files as evidence.
func TestLayerSBOMOfRealWheels(t *testing.T) {
	py := testenv.FindPython(t, "3.12")
	out, err := exec.Command(py, "-c", "import ensurepip, os; print(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled'))").Output()
	if err != nil {
		t.Fatal(err)
	}
	bundled := strings.TrimSpace(string(out))
	wheels, _ := filepath.Glob(filepath.Join(bundled, "*.whl"))
	if len(wheels) == 0 {
		testenv.SkipOrFail(t, "no ensurepip wheels in %s", bundled)
	}
	var lock strings.Builder
	for _, w := range wheels {
		parts := strings.SplitN(filepath.Base(w), "-", 3)
		lock.WriteString(parts[0] + "==" + parts[1] + " --hash=sha256:" + sha256hex(readFile(t, w)) + "\n")
	}
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "requirements.txt")
	os.WriteFile(lockPath, []byte(lock.String()), 0o644)
	sbomPath := filepath.Join(dir, "layer.cdx.json")
	res, r := buildLayer(t, "--lock", lockPath, "--runtime", "python3.12", "--arch", arch(t), "--no-bytecode", "--no-index", "--find-links", bundled,
		"--cache", t.TempDir(), "--out", filepath.Join(dir, "layer.zip"), "--sbom", sbomPath, "--name", "ensurepip")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	doc := readFile(t, sbomPath)
	cdxschema.Validate(t, doc, "1.6")
	var v struct {
		Components []struct {
			Name, Purl string
			Hashes     []struct{ Content string }
			Licenses   []struct {
				License *struct{ ID string }
			}
			Properties []struct{ Name, Value string }
			Evidence   *struct {
				Licenses []struct{ License struct{ Name string } }
			}
		}
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Components) != len(wheels) {
		t.Fatalf("%d components for %d wheels", len(v.Components), len(wheels))
	}
	for _, c := range v.Components {
		source := ""
		for _, p := range c.Properties {
			if p.Name == "lambdapack:license-source" {
				source = p.Value
			}
		}
		want := map[string]string{"pip": "License", "setuptools": "classifiers"}[c.Name]
		if len(c.Licenses) != 1 || c.Licenses[0].License == nil || c.Licenses[0].License.ID != "MIT" || source != want {
			t.Errorf("%s: licenses %+v from %q, want MIT from %s", c.Name, c.Licenses, source, want)
		}
		if c.Evidence == nil || len(c.Evidence.Licenses) == 0 || !strings.Contains(c.Evidence.Licenses[0].License.Name, ".dist-info/") {
			t.Errorf("%s: no license file as evidence: %+v", c.Name, c.Evidence)
		}
		if !strings.HasPrefix(c.Purl, "pkg:pypi/"+c.Name+"@") {
			t.Errorf("%s: purl %s", c.Name, c.Purl)
		}
	}
	if res.Licenses != "MIT" || len(res.LicenseConcerns) != 0 {
		t.Errorf("licenses %q, concerns %+v: want MIT and none", res.Licenses, res.LicenseConcerns)
	}
}
