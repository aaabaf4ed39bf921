package wheel

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseFilename(t *testing.T) {
	tests := []struct {
		in   string
		want Filename
	}{
		{"numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", Filename{
			Name: "numpy", Version: "2.1.3",
			Python: []string{"cp311"}, ABI: []string{"cp311"},
			Platform: []string{"manylinux_2_17_x86_64", "manylinux2014_x86_64"},
		}},
		// PEP 491 escaping: the project "python-dateutil" is spelled with _.
		{"python_dateutil-2.9.0.post0-py2.py3-none-any.whl", Filename{
			Name: "python-dateutil", Version: "2.9.0.post0",
			Python: []string{"py2", "py3"}, ABI: []string{"none"}, Platform: []string{"any"},
		}},
		{"Pillow_HEIF-0.20.0-cp312-cp312-win_amd64.whl", Filename{
			Name: "pillow-heif", Version: "0.20.0",
			Python: []string{"cp312"}, ABI: []string{"cp312"}, Platform: []string{"win_amd64"},
		}},
		// Dots in names were allowed by an earlier version of the spec.
		{"zope.interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl", Filename{
			Name: "zope-interface", Version: "6.0",
			Python: []string{"cp311"}, ABI: []string{"cp311"}, Platform: []string{"manylinux_2_17_x86_64"},
		}},
		{"foo-1.0-1-py3-none-any.whl", Filename{
			Name: "foo", Version: "1.0", Build: "1",
			Python: []string{"py3"}, ABI: []string{"none"}, Platform: []string{"any"},
		}},
		{"foo-1.0-20240101_ab.c-py3-none-any.whl", Filename{
			Name: "foo", Version: "1.0", Build: "20240101_ab.c",
			Python: []string{"py3"}, ABI: []string{"none"}, Platform: []string{"any"},
		}},
		{"foo-1!2.0rc1.post2.dev3+local.7-cp39-abi3-manylinux_2_28_aarch64.whl", Filename{
			Name: "foo", Version: "1!2.0rc1.post2.dev3+local.7",
			Python: []string{"cp39"}, ABI: []string{"abi3"}, Platform: []string{"manylinux_2_28_aarch64"},
		}},
		// Tags compare case-insensitively, as packaging.tags lower-cases them.
		{"Foo-1.0-PY3-NONE-ANY.whl", Filename{
			Name: "foo", Version: "1.0",
			Python: []string{"py3"}, ABI: []string{"none"}, Platform: []string{"any"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFilename(tt.in)
			if err != nil {
				t.Fatalf("ParseFilename: %v", err)
			}
			tt.want.Raw = tt.in
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want the raw filename", got.String())
			}
		})
	}
}

func TestParseFilenameTag(t *testing.T) {
	f, err := ParseFilename("six-1.17.0-py2.py3-none-any.whl")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Tag(); got != "py2.py3-none-any" {
		t.Errorf("Tag() = %q, want py2.py3-none-any", got)
	}
}

func TestParseFilenameRefuses(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"numpy-2.1.3.tar.gz", "numpy-2.1.3.tar.gz is a source distribution; only wheels are used"},
		{"python-dateutil-2.9.0.post0.tar.gz", "is a source distribution; only wheels are used"},
		{"foo-1.0.zip", "foo-1.0.zip is a source distribution"},
		{"foo-1.0.tar.bz2", "is a source distribution"},
		{"foo-1.0.tgz", "is a source distribution"},
		{"foo-1.0-py2.7.egg", "is an egg; only wheels are used"},
		{"foo-1.0-py3-none-any", "is not a wheel"},
		{"foo-1.0-py3-none-any.whl.asc", "is not a wheel"},
		{"", "empty"},
		{"dist/foo-1.0-py3-none-any.whl", "path separator"},
		{`dist\foo-1.0-py3-none-any.whl`, "path separator"},
		{"foo-py3-none-any.whl", "has 4 dash-separated parts"},
		{"foo-bar-1.0-1-py3-none-any.whl", "has 7 dash-separated parts"},
		{"-1.0-py3-none-any.whl", "empty name"},
		{"foo--py3-none-any.whl", "empty version"},
		{"foo-1.0--py3-none-any.whl", "empty build tag"},
		{"foo-1.0-py3-none-.whl", "empty platform tag"},
		{"foo-1.0-py3..py2-none-any.whl", `empty tag in python tag "py3..py2"`},
		{"foo-1.0-abc-py3-none-any.whl", `build tag "abc" must start with a digit`},
		{"foo-1.0-1+x-py3-none-any.whl", `build tag "1+x" must start with a digit`},
		{"foo-1.0-py3-none-any+x.whl", `platform tag "any+x" holds a character`},
		{"foo__bar-1.0-py3-none-any.whl", "not a valid escaped distribution name"},
		{"foo_-1.0-py3-none-any.whl", "not a valid escaped distribution name"},
		{"fo o-1.0-py3-none-any.whl", "not a valid escaped distribution name"},
		{"foo-1.0.x-py3-none-any.whl", `version "1.0.x" is not a PEP 440 version`},
		// Unescaped dash in the name: the parts shift and the "version" is
		// a word. Refused, not guessed.
		{"python-dateutil-2.9.0-py3-none-any.whl", `version "dateutil" is not a PEP 440 version`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseFilename(tt.in)
			if err == nil {
				t.Fatalf("ParseFilename(%q) succeeded, want error containing %q", tt.in, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if tt.in != "" && !strings.Contains(err.Error(), tt.in) && !strings.Contains(err.Error(), `dist\\foo`) {
				t.Errorf("error %q does not name the filename", err)
			}
		})
	}
}

// TestNameNormalized: every spelling of a project name in a filename
// gives the PEP 503 name the lock uses.
func TestNameNormalized(t *testing.T) {
	tests := []struct{ file, want string }{
		{"Pillow-11.0.0-cp312-cp312-manylinux_2_28_x86_64.whl", "pillow"},
		{"pillow_heif-0.20.0-py3-none-any.whl", "pillow-heif"},
		{"Pillow.HEIF-0.20.0-py3-none-any.whl", "pillow-heif"},
		{"a_.b-1.0-py3-none-any.whl", "a-b"},
	}
	for _, tt := range tests {
		f, err := ParseFilename(tt.file)
		if err != nil {
			t.Errorf("ParseFilename(%q): %v", tt.file, err)
			continue
		}
		if f.Name != tt.want {
			t.Errorf("ParseFilename(%q).Name = %q, want %q", tt.file, f.Name, tt.want)
		}
	}
}

// TestIsVersion: a pin finds the files of its version however either
// spells it, and only those.
func TestIsVersion(t *testing.T) {
	tests := []struct {
		file, version string
		want          bool
	}{
		{"numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.whl", "2.1.3", true},
		{"numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.whl", "v2.1.3", true},
		{"foo-1.0.0-py3-none-any.whl", "1.0", true},
		{"foo-1.0-py3-none-any.whl", "1.0.0", true},
		{"python_dateutil-2.9.0.post0-py2.py3-none-any.whl", "2.9.0-0", true},
		{"foo-1.0rc1-py3-none-any.whl", "1.0c1", true},
		{"foo-1.0-1-py3-none-any.whl", "1.0", true}, // 1 is the build tag, not a post-release
		{"numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.whl", "2.1.30", false},
		{"foo-1.0-py3-none-any.whl", "1.0.post1", false},
		{"foo-1.0-py3-none-any.whl", "1.0rc1", false},
		{"foo-1.0+local-py3-none-any.whl", "1.0", false},
		{"foo-1.0-py3-none-any.whl", "latest", false},
		{"foo-1.0-py3-none-any.whl", "", false},
	}
	for _, tt := range tests {
		f, err := ParseFilename(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.IsVersion(tt.version); got != tt.want {
			t.Errorf("%s IsVersion(%q) = %v, want %v", tt.file, tt.version, got, tt.want)
		}
	}
}
