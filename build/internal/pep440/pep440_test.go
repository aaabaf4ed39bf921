package pep440

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) Version {
	t.Helper()
	v, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return v
}

// TestEqual: the spellings PEP 440 says are one version match, so a lock
// pin finds its wheel however either is spelled.
func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"1.0", "1.0.0", true},
		{"2.1.3", "v2.1.3", true},
		{"2.1.3", "V2.1.3", true},
		{"1.0-1", "1.0.post1", true},
		{"1.0.post", "1.0.post0", true},
		{"1.0rev1", "1.0.post1", true},
		{"1.0-r1", "1.0.post1", true},
		{"1.0a", "1.0a0", true},
		{"1.0alpha1", "1.0a1", true},
		{"1.0.beta.2", "1.0b2", true},
		{"1.0c1", "1.0rc1", true},
		{"1.0pre1", "1.0rc1", true},
		{"1.0preview1", "1.0rc1", true},
		{"1.0.dev", "1.0.dev0", true},
		{"1.0-dev_1", "1.0.dev1", true},
		{"0!1.0", "1.0", true},
		{"01.002", "1.2", true},
		{"1.0+Local_01", "1.0+local.1", true},
		{"1.0+abc-1", "1.0+abc.1", true},
		{"2.9.0.POST0", "2.9.0.post0", true},
		{"1.0", "1.0.1", false},
		{"1.0", "1.0a1", false},
		{"1.0", "1.0.post1", false},
		{"1.0", "1.0.dev0", false},
		{"1.0", "1!1.0", false},
		{"1.0", "1.0+local", false},
		{"1.0+1", "1.0+01a", false},
		{"2.1.3", "2.1.30", false},
		{"1.0", "latest", false},
		{"latest", "latest", false},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := Equal(tt.b, tt.a); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{
		"", "1.0.x", "dateutil", "1..0", "1.0-", "1.0+", "latest", ".1", "1.", "1.0 ", " 1.0",
		"1.0+a..b", "1.0+a_", "1!", "!1.0", "1.0*", "1.*", "1.0-1-1", "1.0.post1.post2", "1.0a1b2",
		"1.0.dev1.post1", "1.0+ä", "١.٠",
	} {
		if v, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %s, want refused", s, v)
		} else if err.Error() != "not a PEP 440 version" {
			t.Errorf("Parse(%q): error %q", s, err)
		}
	}
}

// TestCanonicalAndString: String is the normalized spelling, Canonical
// the one equal versions share (pypa packaging's canonicalize_version).
func TestCanonicalAndString(t *testing.T) {
	tests := []struct{ in, str, canon string }{
		{"1.0", "1.0", "1"},
		{"1.0.0", "1.0.0", "1"},
		{"0.0", "0.0", "0"},
		{"v2.1.30", "2.1.30", "2.1.30"},
		{"1.0-1", "1.0.post1", "1.post1"},
		{"1.0.POST", "1.0.post0", "1.post0"},
		{"1.2.0alpha", "1.2.0a0", "1.2a0"},
		{"1.0.0Preview-3", "1.0.0rc3", "1rc3"},
		{"1!02.0rc1.post2.dev3+Local_07.X", "1!2.0rc1.post2.dev3+local.7.x", "1!2rc1.post2.dev3+local.7.x"},
		{"0!1.10", "1.10", "1.10"},
		{"2.9.0.post0", "2.9.0.post0", "2.9.post0"},
	}
	for _, tt := range tests {
		v := mustParse(t, tt.in)
		if got := v.String(); got != tt.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.str)
		}
		if got := v.Canonical(); got != tt.canon {
			t.Errorf("Parse(%q).Canonical() = %q, want %q", tt.in, got, tt.canon)
		}
	}
}

// TestCompareOrder checks every pair of an ascending list, the order PEP
// 440 gives (its own example list, extended with epochs, local labels
// and numbers too large for any integer type).
func TestCompareOrder(t *testing.T) {
	ascending := []string{
		"0.9",
		"1.0.dev0",
		"1.0.dev456",
		"1.0a1",
		"1.0a2.dev456",
		"1.0a12.dev456",
		"1.0a12",
		"1.0b1.dev456",
		"1.0b2",
		"1.0b2.post345.dev456",
		"1.0b2.post345",
		"1.0rc1.dev456",
		"1.0rc1",
		"1.0",
		"1.0+abc.5",
		"1.0+abc.7",
		"1.0+5",
		"1.0.post456.dev34",
		"1.0.post456",
		"1.0.15",
		"1.1.dev1",
		"1.9",
		"1.10",
		"3.12",
		"3.12.99999999999999999999999",
		"99999999999999999999999",
		"1!0.1",
		"99999999999999999999999!0.0",
	}
	for i, a := range ascending {
		va := mustParse(t, a)
		for j, b := range ascending {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := va.Compare(mustParse(t, b)); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		prefix  string
		matches []string
		misses  []string
	}{
		{"3.*", []string{"3", "3.0", "3.12", "3.12.1", "3.13rc1", "3.1.post1", "3.12+local"}, []string{"4.0", "2.7", "1!3.12"}},
		{"3.12.*", []string{"3.12", "3.12.0", "3.12.7", "3.12.0.dev0", "v3.12.1"}, []string{"3.1", "3.120", "3.13", "3", "1!3.12"}},
		{"3.12.0.*", []string{"3.12", "3.12.0", "3.12.0.1"}, []string{"3.12.1"}},
		{"1!3.*", []string{"1!3.12"}, []string{"3.12"}},
		{"03.012.*", []string{"3.12.4"}, []string{"3.1"}},
	}
	for _, tt := range tests {
		p, err := ParsePrefix(tt.prefix)
		if err != nil {
			t.Errorf("ParsePrefix(%q): %v", tt.prefix, err)
			continue
		}
		for _, s := range tt.matches {
			if !mustParse(t, s).HasPrefix(p) {
				t.Errorf("%s does not match ==%s, want a match", s, tt.prefix)
			}
		}
		for _, s := range tt.misses {
			if mustParse(t, s).HasPrefix(p) {
				t.Errorf("%s matches ==%s, want no match", s, tt.prefix)
			}
		}
	}
	for _, bad := range []string{"3.12", "3.*.1", "*", ".*", "3.12rc1.*", "3.12.post1.*", "3.12.dev0.*", "3.12+abc.*", "abc.*", "3.**"} {
		if _, err := ParsePrefix(bad); err == nil || !strings.Contains(err.Error(), "not a version prefix") {
			t.Errorf("ParsePrefix(%q): error %v, want not a version prefix", bad, err)
		}
	}
}

// TestCompatiblePrefix: ~=V is >=V plus a match of V without its last
// release number, which Prefix and ReleaseLen give the marker code.
func TestCompatiblePrefix(t *testing.T) {
	tests := []struct {
		spec string
		n    int
		in   []string // versions ~=spec admits
		out  []string
	}{
		{"3.10", 2, []string{"3.10", "3.11", "3.99.1"}, []string{"3.9", "4.0", "3.10rc1"}},
		{"3.10.2", 3, []string{"3.10.2", "3.10.9", "3.10.2.post1"}, []string{"3.10.1", "3.11.0", "3.10.2rc1"}},
		{"1!2.0", 2, []string{"1!2.5"}, []string{"2.5", "1!3.0"}},
		{"2.2.0", 3, []string{"2.2", "2.2.5"}, []string{"2.3"}},
	}
	for _, tt := range tests {
		spec := mustParse(t, tt.spec)
		if got := spec.ReleaseLen(); got != tt.n {
			t.Errorf("ReleaseLen(%q) = %d, want %d", tt.spec, got, tt.n)
		}
		prefix := spec.Prefix(spec.ReleaseLen() - 1)
		compatible := func(s string) bool {
			v := mustParse(t, s)
			return v.Compare(spec) >= 0 && v.HasPrefix(prefix)
		}
		for _, s := range tt.in {
			if !compatible(s) {
				t.Errorf("%s is not ~=%s, want it to be", s, tt.spec)
			}
		}
		for _, s := range tt.out {
			if compatible(s) {
				t.Errorf("%s is ~=%s, want it not to be", s, tt.spec)
			}
		}
	}
	if got := mustParse(t, "3.12.1").Prefix(9).String(); got != "3.12.1" {
		t.Errorf("Prefix beyond the release = %q, want the whole release", got)
	}
}
