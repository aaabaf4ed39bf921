package wheel

import (
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
)

// Filenames come from indexes and folders nobody here controls: parsing and
// fitting any of them must not panic, and what parses must be a wheel name
// whose fields describe the filename.
func FuzzParseFilename(f *testing.F) {
	for _, seed := range []string{
		"numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		"stripe-11.6.0-py2.py3-none-any.whl",
		"pillow_heif-0.20.0-cp311-cp311-musllinux_1_2_x86_64.whl",
		"rawpy-0.26.1-1build-cp312-abi3-manylinux_2_28_aarch64.whl",
		"numpy-2.1.3.tar.gz",
		"a-b-c.whl",
	} {
		f.Add(seed)
	}
	tg, err := target.New([]string{"python3.9", "python3.11", "python3.12", "python3.14"}, "x86_64")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		fn, err := ParseFilename(name)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error message")
			}
			return
		}
		if fn.Raw != name || !strings.HasSuffix(name, ".whl") || len(fn.Python) == 0 || len(fn.ABI) == 0 || len(fn.Platform) == 0 {
			t.Fatalf("ParseFilename(%q) = %+v", name, fn)
		}
		for _, r := range tg.Runtimes {
			if fit := fn.Fit(r, tg.Arch); !fit.OK && fit.Reason == "" {
				t.Fatalf("%q does not fit %s and gives no reason", name, r)
			}
		}
		if _, err := Select(fn.Name, fn.Version, []Filename{fn}, tg); err != nil && err.Error() == "" {
			t.Fatal("an empty error message")
		}
	})
}
