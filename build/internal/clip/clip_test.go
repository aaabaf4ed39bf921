package clip

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	long := strings.Repeat("a", 10<<20)
	cases := []struct {
		name        string
		in          string
		str, quoted string
	}{
		{"short", "numpy", "numpy", `"numpy"`},
		{"exactly max", strings.Repeat("b", Max), strings.Repeat("b", Max), strconv.Quote(strings.Repeat("b", Max))},
		{"10 MB name", long, strings.Repeat("a", Max) + "... (10485760 bytes)", `"` + strings.Repeat("a", Max) + `"... (10485760 bytes)`},
		// 199 ASCII bytes then a 3-byte character straddling the cut: the
		// character is dropped whole, never split.
		{"multibyte at the cut", strings.Repeat("c", Max-1) + "€" + "tail", strings.Repeat("c", Max-1) + "... (206 bytes)", `"` + strings.Repeat("c", Max-1) + `"... (206 bytes)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := String(c.in); got != c.str {
				t.Errorf("String = %.80q... (%d bytes), want %.80q... (%d bytes)", got, len(got), c.str, len(c.str))
			}
			if got := Quote(c.in); got != c.quoted {
				t.Errorf("Quote = %.80q... (%d bytes), want %.80q...", got, len(got), c.quoted)
			}
			if !utf8.ValidString(String(c.in)) {
				t.Error("String split a UTF-8 character")
			}
		})
	}
}

// Inputs clips each long input wherever a message holds it, quoted or
// not; short inputs and the rest of the message are left as they are.
func TestInputs(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	path := "/tmp/" + long + "/layer.zip"
	msg := "lambdapack layer: output " + path + " is a folder; unexpected argument " + strconv.Quote(long) + " near --arch arm"
	got := Inputs(msg, []string{"layer", "--out", path, long, "--arch", "arm"})
	want := "lambdapack layer: output " + String(path) + " is a folder; unexpected argument " + Quote(long) + " near --arch arm"
	if got != want {
		t.Errorf("Inputs = %.300q, want %.300q", got, want)
	}
	if len(got) > 1000 {
		t.Errorf("Inputs left %d bytes", len(got))
	}
	if got := Inputs("nothing long", []string{long}); got != "nothing long" {
		t.Errorf("Inputs changed a message without the input: %q", got)
	}
}

// Args clips the strings among a format's arguments and leaves the rest.
func TestArgs(t *testing.T) {
	long := strings.Repeat("y", 1000)
	got := Args([]any{long, 7, "short", strconv.ErrRange})
	if got[0] != String(long) || got[1] != 7 || got[2] != "short" || got[3] != strconv.ErrRange {
		t.Errorf("Args = %v", got)
	}
}
