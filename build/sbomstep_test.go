package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/cache"
	"github.com/galerly/galerly-lambda/build/index"
	"github.com/galerly/galerly-lambda/build/internal/cdxschema"
	"github.com/galerly/galerly-lambda/build/internal/wheeltest"
	"github.com/galerly/galerly-lambda/build/sbom"
	"github.com/galerly/galerly-lambda/build/target"
)

// licensedFixture is a find-links folder and lock with wheels that carry
// licenses in each way a real one does:
//   - vendorpkg: auditwheel-style vendorpkg.libs/ with a library, another
//     library bundled beside the code, an extension module (not vendored),
//     PEP 639 license files among them a bundled-licenses file naming the
//     LGPL, and a PEP 770 SBOM;
//   - dualpkg: a License-Expression with two PEP 639 license files;
//   - oldstyle: License UNKNOWN, an MIT classifier, a LICENSE.txt
//     directly in .dist-info (setuptools before PEP 639).
type licensedFixture struct {
	opts LayerOptions
	libs map[string]string // vendored library path -> sha256 of its bytes
}

func newLicensedFixture(t *testing.T) *licensedFixture {
	t.Helper()
	links := t.TempDir()
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	libfoo, libbar := random(300_000), random(40_000)
	f := &licensedFixture{libs: map[string]string{
		"vendorpkg.libs/libfoo-1a2b3c4d.so.1.0": sum(libfoo),
		"vendorpkg/libbar.so.2":                 sum(libbar),
	}}
	var lockText strings.Builder
	add := func(filename string, entries []wheeltest.Entry) {
		t.Helper()
		_, s, err := wheeltest.Write(links, filename, entries)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.SplitN(filename, "-", 2)[0]
		lockText.WriteString(name + "==1.0 --hash=sha256:" + s + "\n")
	}
	add("vendorpkg-1.0-cp312-cp312-manylinux2014_x86_64.whl", []wheeltest.Entry{
		{Name: "vendorpkg/__init__.py", Data: []byte("from . import _core\n")},
		{Name: "vendorpkg/_core.cpython-312-x86_64-linux-gnu.so", Data: random(5000), Mode: 0o755},
		{Name: "vendorpkg/libbar.so.2", Data: libbar, Mode: 0o755},
		{Name: "vendorpkg.libs/libfoo-1a2b3c4d.so.1.0", Data: libfoo, Mode: 0o755},
		{Name: "vendorpkg-1.0.dist-info/METADATA", Data: []byte("Metadata-Version: 2.4\nName: vendorpkg\nVersion: 1.0\n" +
			"License-Expression: BSD-3-Clause\nLicense-File: LICENSE\nLicense-File: LICENSES_bundled.txt\n\nA package.\n")},
		{Name: "vendorpkg-1.0.dist-info/licenses/LICENSE", Data: []byte("BSD 3-Clause License\n\nCopyright (c) vendorpkg\n")},
		{Name: "vendorpkg-1.0.dist-info/licenses/LICENSES_bundled.txt", Data: []byte("Name: libfoo\nFiles: vendorpkg.libs/libfoo*.so\n" +
			"License: LGPL-2.1-or-later\n  libfoo is free software; you can redistribute it under the terms of the GNU Lesser General Public License\n")},
		{Name: "vendorpkg-1.0.dist-info/sboms/auditwheel.cdx.json", Data: []byte("{}\n")},
	})
	add("dualpkg-1.0-py3-none-any.whl", []wheeltest.Entry{
		{Name: "dualpkg.py", Data: []byte("V = 1\n")},
		{Name: "dualpkg-1.0.dist-info/METADATA", Data: []byte("Metadata-Version: 2.4\nName: DualPkg\nVersion: 1.0\n" +
			"License-Expression: mit OR apache-2.0\nLicense-File: LICENSE-MIT\nLicense-File: LICENSE-APACHE\n")},
		{Name: "dualpkg-1.0.dist-info/licenses/LICENSE-MIT", Data: []byte("MIT License\n")},
		{Name: "dualpkg-1.0.dist-info/licenses/LICENSE-APACHE", Data: []byte("Apache License\nVersion 2.0, January 2004\n")},
	})
	add("oldstyle-1.0-py3-none-any.whl", []wheeltest.Entry{
		{Name: "oldstyle.py", Data: []byte("V = 1\n")},
		{Name: "oldstyle-1.0.dist-info/METADATA", Data: []byte("Metadata-Version: 2.1\nName: oldstyle\nVersion: 1.0\nLicense: UNKNOWN\n" +
			"Classifier: License :: OSI Approved :: MIT License\nClassifier: Programming Language :: Python :: 3\n")},
		{Name: "oldstyle-1.0.dist-info/LICENSE.txt", Data: []byte("MIT License\n")},
	})
	lockPath := filepath.Join(t.TempDir(), "lock.txt")
	if err := os.WriteFile(lockPath, []byte(lockText.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := target.New([]string{"python3.12"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	f.opts = LayerOptions{
		Lock:       lockPath,
		Target:     tg,
		Out:        filepath.Join(t.TempDir(), "layer.zip"),
		Sources:    index.Sources{NoIndex: true, FindLinks: []string{links}},
		CacheDir:   t.TempDir(),
		NoBytecode: true,
		SBOM:       SBOMOptions{Name: "licensed", ToolVersion: "v0.0.0-test"},
	}
	f.opts.SBOM.Path = filepath.Join(filepath.Dir(f.opts.Out), "layer.cdx.json")
	return f
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sbomView is what the tests read of an SBOM.
type sbomView struct {
	Metadata struct {
		Component struct {
			Name    string
			Version string
			Hashes  []struct{ Content string }
		}
	}
	Components []struct {
		Name     string
		Purl     string
		Hashes   []struct{ Content string }
		Licenses []struct {
			Expression string
			License    *struct{ ID, Name string }
		}
		Properties []struct{ Name, Value string }
		Components []struct {
			Name       string
			Hashes     []struct{ Content string }
			Properties []struct{ Name, Value string }
		}
		Evidence *struct {
			Licenses []struct{ License struct{ Name string } }
		}
	}
}

func readSBOM(t *testing.T, path string) (sbomView, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v sbomView
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v, data
}

func TestLayerSBOMAndLicenses(t *testing.T) {
	f := newLicensedFixture(t)
	res, err := Layer(context.Background(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := "BSD-3-Clause AND MIT AND (MIT OR Apache-2.0)"; res.Licenses != want {
		t.Errorf("licenses = %q, want %q", res.Licenses, want)
	}
	var whys []string
	for _, c := range res.LicenseConcerns {
		if c.Package != "vendorpkg" {
			t.Errorf("concern about %s: %s", c.Package, c.Why)
		}
		whys = append(whys, c.Why)
	}
	for _, want := range []string{"names the GNU LGPL", "bundled-licenses file, vendorpkg-1.0.dist-info/licenses/LICENSES_bundled.txt", "vendors 2 shared libraries (libfoo-1a2b3c4d.so.1.0, libbar.so.2)"} {
		if !slices.ContainsFunc(whys, func(w string) bool { return strings.Contains(w, want) }) {
			t.Errorf("no concern %q in %q", want, whys)
		}
	}
	if res.SBOM == nil || res.SBOM.File != f.opts.SBOM.Path || res.SBOM.SpecVersion != sbom.Spec16 {
		t.Fatalf("report's sbom = %+v", res.SBOM)
	}
	v, data := readSBOM(t, f.opts.SBOM.Path)
	if res.SBOM.SHA256 != sum(data) || !bytes.Equal(data, res.SBOMDocument()) {
		t.Errorf("the report's sha256 %s is not the file's %s, or the file is not the 1.6 document", res.SBOM.SHA256, sum(data))
	}
	cdxschema.Validate(t, data, "1.6")
	if m := v.Metadata.Component; m.Name != "licensed" || m.Version != res.Key || m.Hashes[0].Content != res.SHA256 {
		t.Errorf("metadata.component = %+v, want the layer's name, key and zip sha256", m)
	}
	if len(v.Components) != 3 {
		t.Fatalf("%d components, want one per wheel", len(v.Components))
	}
	for _, c := range v.Components {
		if !slices.ContainsFunc(res.Packages, func(p Package) bool { return p.SHA256 == c.Hashes[0].Content }) {
			t.Errorf("%s: hash %s is not a locked wheel's", c.Name, c.Hashes[0].Content)
		}
		switch c.Name {
		case "DualPkg":
			if c.Purl != "pkg:pypi/dualpkg@1.0" || c.Licenses[0].Expression != "MIT OR Apache-2.0" || len(c.Evidence.Licenses) != 2 {
				t.Errorf("DualPkg = %+v", c)
			}
		case "oldstyle":
			if c.Licenses[0].License == nil || c.Licenses[0].License.ID != "MIT" || c.Evidence.Licenses[0].License.Name != "oldstyle-1.0.dist-info/LICENSE.txt" {
				t.Errorf("oldstyle = %+v", c)
			}
		case "vendorpkg":
			got := map[string]string{}
			for _, l := range c.Components {
				got[l.Properties[0].Value] = l.Hashes[0].Content
			}
			if len(got) != 2 || got["vendorpkg.libs/libfoo-1a2b3c4d.so.1.0"] != f.libs["vendorpkg.libs/libfoo-1a2b3c4d.so.1.0"] ||
				got["vendorpkg/libbar.so.2"] != f.libs["vendorpkg/libbar.so.2"] {
				t.Errorf("vendored libraries %v, want %v (and not the extension module)", got, f.libs)
			}
			if len(c.Evidence.Licenses) != 2 {
				t.Errorf("vendorpkg's license files: %+v", c.Evidence)
			}
		default:
			t.Errorf("unexpected component %s", c.Name)
		}
	}
}

// The SBOM is the same from a cold cache and a warm one (the inventory
// read from its sealed record), and a planted inventory record that is
// not sealed is not believed.
func TestLayerSBOMWarmAndPlanted(t *testing.T) {
	f := newLicensedFixture(t)
	if _, err := Layer(context.Background(), f.opts); err != nil {
		t.Fatal(err)
	}
	_, cold := readSBOM(t, f.opts.SBOM.Path)
	if _, err := Layer(context.Background(), f.opts); err != nil {
		t.Fatal(err)
	}
	if _, warm := readSBOM(t, f.opts.SBOM.Path); !bytes.Equal(cold, warm) {
		t.Error("a warm build wrote another SBOM")
	}
	c, err := cache.Open(f.opts.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := json.Marshal(inventory{Format: inventoryFormat, Metadata: "Metadata-Version: 2.1\nName: vendorpkg\nVersion: 1.0\nLicense: MIT\n",
		LicenseFiles: []sbom.LicenseFile{}, Libraries: []sbom.Library{}, EmbeddedSBOMs: []string{}})
	res, _ := Layer(context.Background(), f.opts)
	for _, p := range res.Packages {
		if p.Name == "vendorpkg" {
			if err := c.WriteRecord(inventoryRecord(p.SHA256), forged); err != nil {
				t.Fatal(err)
			}
		}
	}
	var log bytes.Buffer
	f.opts.Log = &log
	res, err = Layer(context.Background(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, again := readSBOM(t, f.opts.SBOM.Path); !bytes.Equal(cold, again) || !strings.Contains(res.Licenses, "BSD-3-Clause") {
		t.Errorf("a planted inventory changed the SBOM (licenses %q)", res.Licenses)
	}
	if !strings.Contains(log.String(), "taking the inventory of vendorpkg-1.0") {
		t.Errorf("no note about the record that failed its seal:\n%s", log.String())
	}
}

// A failed build writes neither the zip nor the SBOM.
func TestLayerSBOMFailedBuildWritesNothing(t *testing.T) {
	f := newLicensedFixture(t)
	f.opts.MaxUnzipped = 1000 // the layer is far larger
	if _, err := Layer(context.Background(), f.opts); err == nil {
		t.Fatal("a layer over --max-unzipped was built")
	}
	for _, p := range []string{f.opts.Out, f.opts.SBOM.Path} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is there after a failed build", p)
		}
	}
}

func TestSBOMOutRefused(t *testing.T) {
	f := newLicensedFixture(t)
	for _, tc := range []struct {
		path, want string
	}{
		{f.opts.Out, "are the same file"},
		{f.opts.Lock, "is the lock"},
		{filepath.Join(f.opts.CacheDir, "x.json"), "inside the cache folder"},
		{filepath.Join(t.TempDir(), "missing", "x.json"), "does not exist"},
	} {
		o := f.opts
		o.SBOM.Path = tc.path
		if _, err := Layer(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--sbom %s: %v, want %q", tc.path, err, tc.want)
		}
	}
}

// A wheel that holds a library (or a license file, or METADATA) twice
// under one name is refused, naming it: the check's one pass over the
// archive hands the inventory each entry's bytes by name.
func TestInventoryRefusesANameTwice(t *testing.T) {
	dir := t.TempDir()
	filename := "twice-1.0-cp312-cp312-manylinux2014_x86_64.whl"
	lib := wheeltest.Entry{Name: "twice.libs/libtwice.so.1", Data: []byte("one"), Mode: 0o755}
	path, sum, err := wheeltest.Write(dir, filename, []wheeltest.Entry{lib, {Name: lib.Name, Data: []byte("two"), Mode: 0o755}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.OpenWith(t.TempDir(), cache.Options{SealKeyFile: filepath.Join(t.TempDir(), "seal.key")})
	if err != nil {
		t.Fatal(err)
	}
	placed := []placement{{Name: "twice", Version: "1.0", Wheel: filename, SHA256: sum, Path: "python/", file: path}}
	err = checkWheels(context.Background(), c, placed, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), `"twice.libs/libtwice.so.1" is in it twice`) {
		t.Errorf("checkWheels = %v, want the library named twice refused", err)
	}
}

func TestSharedLibrary(t *testing.T) {
	for p, want := range map[string]bool{
		"numpy.libs/libgfortran-040039e1.so.5.0.0":                      true,
		"numpy.libs/libscipy_openblas64_-ff651d7f.so":                   true,
		"pillow.libs/libjpeg-77ae51ab.so.62.4.0":                        true,
		"rawpy/libraw_r.so.23":                                          true,
		"pillow_heif/libheif.so":                                        true,
		"numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so": false,
		"PIL/_imaging.cpython-311-x86_64-linux-gnu.so":                  false,
		"cryptography/hazmat/bindings/_rust.abi3.so":                    false,
		"foo/_speedups.so":                                              false,
		"foo/library.py":                                                false,
	} {
		if got := SharedLibrary(p); got != want {
			t.Errorf("SharedLibrary(%s) = %v, want %v", p, got, want)
		}
	}
}

// A function package's SBOM lists its own code as one component, named
// by the source folder and versioned by the code key, beside its
// dependencies.
func TestFunctionSBOM(t *testing.T) {
	f := newLicensedFixture(t)
	src := filepath.Join(t.TempDir(), "app")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "handler.py"), []byte("def handler(e, c):\n    return 1\n"), 0o644)
	out := filepath.Join(t.TempDir(), "fn.zip")
	res, err := Function(context.Background(), FunctionOptions{
		Src: src, Lock: f.opts.Lock, Target: f.opts.Target, Out: out, Sources: f.opts.Sources, CacheDir: f.opts.CacheDir,
		NoBytecode: true, SBOM: SBOMOptions{Path: out + ".cdx.json", ToolVersion: "v0.0.0-test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Metadata struct {
			Component struct{ Type, Name, Version string }
		}
		Components []struct {
			BOMRef              string `json:"bom-ref"`
			Type, Name, Version string
		}
	}
	data, err := os.ReadFile(out + ".cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	cdxschema.Validate(t, data, "1.6")
	json.Unmarshal(data, &v)
	if m := v.Metadata.Component; m.Type != "application" || m.Name != "fn" || m.Version != res.Key {
		t.Errorf("metadata.component = %+v, want the function package fn at its code key", m)
	}
	if len(v.Components) != 4 || v.Components[0].BOMRef != "code:"+res.Key || v.Components[0].Name != "app" || v.Components[0].Type != "application" {
		t.Errorf("components = %+v, want the code (app) and three wheels", v.Components)
	}
	if res.Licenses != "BSD-3-Clause AND MIT AND (MIT OR Apache-2.0)" {
		t.Errorf("licenses = %q", res.Licenses)
	}
}
