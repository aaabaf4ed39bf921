package target

import (
	"strings"
	"testing"
)

func TestParseRuntime(t *testing.T) {
	cases := []struct {
		in        string
		glibc     string
		site      string
		wantError string
	}{
		{"python3.9", "2.26", "python/lib/python3.9/site-packages", ""},
		{"python3.11", "2.26", "python/lib/python3.11/site-packages", ""},
		{"python3.12", "2.34", "python/lib/python3.12/site-packages", ""},
		{"python3.14", "2.34", "python/lib/python3.14/site-packages", ""},
		{"python3.8", "", "", "not a Lambda Python runtime"},
		{"python3.15", "", "", "not a Lambda Python runtime"},
		{"python3.012", "", "", "want python3.X"},
		{"python2.7", "", "", "want python3.X"},
		{"nodejs20.x", "", "", "want python3.X"},
		{"python3.", "", "", "want python3.X"},
		{"", "", "", "want python3.X"},
	}
	for _, c := range cases {
		r, err := ParseRuntime(c.in)
		if c.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantError) || !strings.Contains(err.Error(), "python3.12") {
				t.Errorf("ParseRuntime(%q) error %v, want one containing %q and listing the supported runtimes", c.in, err, c.wantError)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRuntime(%q): %v", c.in, err)
			continue
		}
		if r.String() != c.in || r.Glibc().String() != c.glibc || r.SitePackages() != c.site {
			t.Errorf("ParseRuntime(%q) = %s glibc %s site %s, want glibc %s site %s", c.in, r, r.Glibc(), r.SitePackages(), c.glibc, c.site)
		}
	}
}

// Equal targets spelled differently on a command line must be equal, since
// the layer key hashes Target.String.
func TestNewIsCanonical(t *testing.T) {
	a, err := New([]string{"python3.12", "python3.11", "python3.12"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	b, err := New([]string{"python3.11", "python3.12"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() || a.String() != "python3.11,python3.12/x86_64" {
		t.Errorf("targets %q and %q, want both python3.11,python3.12/x86_64", a, b)
	}
	if _, err := New(nil, "x86_64"); err == nil {
		t.Error("a target with no runtime was accepted")
	}
	for _, arch := range []string{"amd64", "aarch64", "X86_64", ""} {
		if _, err := New([]string{"python3.12"}, arch); err == nil || !strings.Contains(err.Error(), "x86_64 or arm64") {
			t.Errorf("arch %q: error %v, want one naming x86_64 or arm64", arch, err)
		}
	}
	if m := ARM64.Machine(); m != "aarch64" {
		t.Errorf("arm64 machine %q, want aarch64 (the wheel tag and platform_machine spelling)", m)
	}
}

func TestGlibcAtMost(t *testing.T) {
	cases := []struct {
		a, b Glibc
		want bool
	}{
		{Glibc{2, 17}, Glibc{2, 26}, true},
		{Glibc{2, 26}, Glibc{2, 26}, true},
		{Glibc{2, 27}, Glibc{2, 26}, false},
		{Glibc{2, 34}, Glibc{2, 26}, false},
		{Glibc{1, 99}, Glibc{2, 0}, true},
		{Glibc{3, 0}, Glibc{2, 99}, false},
	}
	for _, c := range cases {
		if got := c.a.AtMost(c.b); got != c.want {
			t.Errorf("%s <= %s = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
