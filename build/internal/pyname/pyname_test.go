package pyname

import "testing"

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		"Pillow":            "pillow",
		"pillow_heif":       "pillow-heif",
		"Pillow-HEIF":       "pillow-heif",
		"Foo.Bar":           "foo-bar",
		"foo__-._bar":       "foo-bar",
		"typing_extensions": "typing-extensions",
		"numpy":             "numpy",
	}
	for in, want := range cases {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValid(t *testing.T) {
	cases := map[string]bool{
		"numpy": true, "pillow-heif": true, "Foo.Bar_baz": true, "a": true, "9x": true,
		"": false, "-numpy": false, "numpy-": false, "num py": false, "num/py": false,
		"../x": false, "nümpy": false, "a;b": false,
	}
	for in, want := range cases {
		if got := Valid(in); got != want {
			t.Errorf("Valid(%q) = %v, want %v", in, got, want)
		}
	}
}
