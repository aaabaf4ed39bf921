package lock

import (
	"fmt"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
)

func TestMarkerEval(t *testing.T) {
	tests := []struct {
		marker string
		rt     int // python3.<rt>
		arch   target.Arch
		want   bool
	}{
		// python_version compares as a version, not as a string.
		{`python_version < "3.12"`, 11, target.X86_64, true},
		{`python_version < "3.12"`, 12, target.X86_64, false},
		{`python_version >= '3.12'`, 12, target.X86_64, true},
		{`python_version > "3.9"`, 10, target.X86_64, true},
		{`python_version <= "3.9"`, 10, target.X86_64, false},
		{`"3.12" <= python_version`, 13, target.X86_64, true},
		{`"3.12" > python_version`, 13, target.X86_64, false},
		{`python_version == "3.12"`, 12, target.X86_64, true},
		{`python_version == "3.12.0"`, 12, target.X86_64, true},
		{`python_version != "3.12"`, 12, target.X86_64, false},
		{`python_version == "3.*"`, 12, target.X86_64, true},
		{`python_version == "3.1.*"`, 12, target.X86_64, false},
		{`python_version != "3.12.*"`, 11, target.X86_64, true},
		{`python_version == "1!3.*"`, 12, target.X86_64, false},
		{`python_version ~= "3.10"`, 12, target.X86_64, true},
		{`python_version ~= "3.13"`, 12, target.X86_64, false},
		{`python_version > "3.12rc1"`, 12, target.X86_64, true},
		{`python_version < "3.13.dev0"`, 12, target.X86_64, true},
		{`python_version >= "3.12.post1"`, 12, target.X86_64, false},
		{`python_version < "1!0.1"`, 14, target.X86_64, true},
		// Numbers have no size limit, as in pip.
		{`python_version < "99999999999999999999999"`, 12, target.X86_64, true},
		{`python_version < "99999999999999999999999!3.12"`, 12, target.X86_64, true},
		{`python_version > "3.12rc99999999999999999999999"`, 12, target.X86_64, true},
		{`python_version < "3.12.post99999999999999999999999"`, 12, target.X86_64, true},
		{`python_full_version > "3.11.99999999999999999999999"`, 12, target.X86_64, true},
		{`python_full_version < "3.13.dev99999999999999999999999"`, 12, target.X86_64, true},
		{`python_version === "3.12"`, 12, target.X86_64, true},
		{`python_version === "3.12.0"`, 12, target.X86_64, false},
		{`python_version in "3.11 3.12"`, 11, target.X86_64, true},
		{`python_version in "3.11 3.12"`, 13, target.X86_64, false},
		{`python_version not in "3.9, 3.10"`, 12, target.X86_64, true},
		// python_full_version: decided when every patch release of the
		// runtime gives one answer (TestMarkerPatchRelease has the rest).
		{`python_full_version == "3.12.*"`, 12, target.X86_64, true},
		{`python_full_version != "3.11.*"`, 12, target.X86_64, true},
		{`python_full_version < "3.13"`, 12, target.X86_64, true},
		{`python_full_version >= "3.12"`, 12, target.X86_64, true},
		{`python_full_version >= "3.12.0"`, 12, target.X86_64, true},
		{`python_full_version >= "3.13.0"`, 12, target.X86_64, false},
		{`python_full_version < '3.11'`, 11, target.X86_64, false},
		{`python_full_version ~= "3.11.0"`, 11, target.X86_64, true},
		{`python_full_version ~= "3.11.0"`, 12, target.X86_64, false},
		{`"3.11.9" < python_full_version`, 12, target.X86_64, true},
		{`implementation_version >= "3.11"`, 11, target.X86_64, true},
		// What uv pip compile --universal writes to split numpy.
		{`python_full_version < '3.14'`, 13, target.X86_64, true},
		{`python_full_version >= '3.14'`, 13, target.X86_64, false},
		{`python_full_version >= '3.11' and python_full_version < '3.13'`, 12, target.X86_64, true},
		{`python_full_version >= '3.11' and python_full_version < '3.13'`, 13, target.X86_64, false},
		// The fixed facts of a Lambda environment.
		{`platform_machine == "x86_64"`, 12, target.X86_64, true},
		{`platform_machine == "x86_64"`, 12, target.ARM64, false},
		{`platform_machine == 'aarch64'`, 12, target.ARM64, true},
		{`platform_machine == "arm64"`, 12, target.ARM64, false},
		{`platform_machine in "x86_64 AMD64"`, 12, target.X86_64, true},
		{`"arm" not in platform_machine`, 12, target.X86_64, true},
		{`sys_platform == "linux"`, 12, target.X86_64, true},
		{`sys_platform == "win32"`, 12, target.X86_64, false},
		{`sys_platform == "darwin"`, 12, target.ARM64, false},
		{`platform_system == "Linux"`, 9, target.X86_64, true},
		{`platform_system == "Windows"`, 9, target.X86_64, false},
		{`os_name == "posix"`, 12, target.X86_64, true},
		{`os_name == "nt"`, 12, target.X86_64, false},
		{`implementation_name == "cpython"`, 12, target.X86_64, true},
		{`platform_python_implementation == "CPython"`, 12, target.X86_64, true},
		{`platform_python_implementation == "PyPy"`, 12, target.X86_64, false},
		{`extra == "socks"`, 12, target.X86_64, false},
		{`extra != "socks"`, 12, target.X86_64, true},
		{`platform_machine < "y"`, 12, target.X86_64, true},
		{`platform_machine >= "y"`, 12, target.X86_64, false},
		{`platform_machine > "a"`, 12, target.ARM64, true},
		{`platform_machine <= "a"`, 12, target.ARM64, false},
		// Two literals compare as versions when both are versions.
		{`"1.10" > "1.9"`, 12, target.X86_64, true},
		{`"1.0.dev1" < "1.0a1"`, 12, target.X86_64, true},
		{`"1.0a1" < "1.0b1"`, 12, target.X86_64, true},
		{`"1.0rc1" < "1.0"`, 12, target.X86_64, true},
		{`"1.0" < "1.0.post1"`, 12, target.X86_64, true},
		{`"1.0.post1.dev1" < "1.0.post1"`, 12, target.X86_64, true},
		{`"1.0a1.dev1" < "1.0a1"`, 12, target.X86_64, true},
		{`"1.0" == "1.0.0"`, 12, target.X86_64, true},
		{`"2.0" ~= "1.4"`, 12, target.X86_64, false},
		{`"abc" < "abd"`, 12, target.X86_64, true},
		// and binds tighter than or; parentheses override.
		{`sys_platform == "linux" or sys_platform == "win32" and platform_machine == "aarch64"`, 12, target.X86_64, true},
		{`(sys_platform == "linux" or sys_platform == "win32") and platform_machine == "aarch64"`, 12, target.X86_64, false},
		{`(sys_platform == "linux" or sys_platform == "win32") and platform_machine == "aarch64"`, 12, target.ARM64, true},
		{`((python_version<"3.12"))and(platform_machine=="x86_64")`, 11, target.X86_64, true},
		// What uv pip compile --universal writes.
		{`platform_machine == 'x86_64' and sys_platform == 'linux'`, 11, target.X86_64, true},
		{`python_full_version < '3.12' and platform_python_implementation == 'CPython'`, 12, target.X86_64, false},
		{`python_full_version < '3.12' and platform_python_implementation == 'CPython'`, 11, target.X86_64, true},
		{`sys_platform != 'win32' and sys_platform != 'darwin'`, 11, target.ARM64, true},
	}
	for _, tt := range tests {
		m, err := ParseMarker(tt.marker)
		if err != nil {
			t.Errorf("ParseMarker(%s): %v", tt.marker, err)
			continue
		}
		r := target.Runtime{Minor: tt.rt}
		if got, err := m.Eval(r, tt.arch); got != tt.want || err != nil {
			t.Errorf("%s on %s/%s = %v, %v; want %v", tt.marker, r, tt.arch, got, err, tt.want)
		}
	}
}

// A Lambda runtime's patch release is not fixed (Lambda updates it) and a
// key is computed with no interpreter, so a comparison whose answer
// depends on it is left open, and a marker it leaves open is refused,
// naming the comparison, the runtime and how to lock without it. "and"
// with a false side and "or" with a true side are still decided.
func TestMarkerPatchRelease(t *testing.T) {
	const open = "open"
	tests := []struct {
		marker string
		rt     int
		want   string // "true", "false" or open
	}{
		{`python_full_version < "3.12.4"`, 12, open},
		{`python_full_version >= "3.12.4"`, 12, open},
		{`python_full_version >= "3.12.1"`, 12, open},
		{`python_full_version == "3.12.0"`, 12, open},
		{`python_full_version == "3.12"`, 12, open}, // 3.12.0 is 3.12
		{`python_full_version > "3.12"`, 12, open},
		{`python_full_version != "3.9.7"`, 9, open},
		{`python_full_version == "3.12.1.*"`, 12, open},
		{`python_full_version ~= "3.12.4"`, 12, open},
		{`python_full_version < "3.12.4rc1"`, 12, open},
		{`python_full_version > "3.12.4.post1"`, 12, open},
		{`python_full_version > "3.12.99999999999999999999999"`, 12, open},
		{`"3.12.2" < python_full_version`, 12, open},
		{`implementation_version < "3.11.3"`, 11, open},
		{`python_full_version > python_version`, 12, open},
		{`python_full_version >= python_version`, 12, "true"},
		// redis's async-timeout marker: open on 3.11 only.
		{`python_full_version < "3.11.3"`, 11, open},
		{`python_full_version < "3.11.3"`, 10, "true"},
		{`python_full_version < "3.11.3"`, 12, "false"},
		{`python_full_version < "1!3.12.4"`, 12, "true"},
		{`python_full_version < "3.12rc1"`, 12, "false"},
		{`python_full_version < "3.12.0rc1"`, 12, "false"},
		{`python_full_version < "3.12.4" and python_version < "3.12"`, 12, "false"},
		{`python_full_version < "3.12.4" or python_version >= "3.12"`, 12, "true"},
		{`python_full_version < "3.12.4" and python_version >= "3.12"`, 12, open},
		{`python_full_version < "3.12.4" or sys_platform == "win32"`, 12, open},
	}
	for _, tt := range tests {
		m, err := ParseMarker(tt.marker)
		if err != nil {
			t.Fatalf("ParseMarker(%s): %v", tt.marker, err)
		}
		r := target.Runtime{Minor: tt.rt}
		v, err := m.Eval(r, target.X86_64)
		got := fmt.Sprint(v)
		if err != nil {
			got = open
			for _, want := range []string{r.String() + " patch releases", "does not guess", "--python-version 3." + fmt.Sprint(tt.rt) + ".N", "python_full_version"} {
				if tt.want == open && !strings.Contains(err.Error(), want) && !strings.Contains(tt.marker, "implementation_version") {
					t.Errorf("%s on %s: %v, want it to say %q", tt.marker, r, err, want)
				}
			}
		}
		if got != tt.want {
			t.Errorf("%s on %s = %s (%v), want %s", tt.marker, r, got, err, tt.want)
		}
	}
}

func TestNilMarkerIsTrue(t *testing.T) {
	var m *Marker
	if ok, err := m.Eval(target.Runtime{Minor: 12}, target.ARM64); !ok || err != nil || m.String() != "" {
		t.Fatal("a requirement without a marker must apply everywhere")
	}
}

func TestMarkerRefuses(t *testing.T) {
	tests := []struct{ marker, want string }{
		{``, "expected a variable or a quoted string"},
		{`python_version <`, "expected a variable or a quoted string"},
		{`python_version "3.12"`, "expected a comparison operator"},
		{`python_version = "3.12"`, `unexpected "="`},
		{`python_version not "3.12"`, "expected a comparison operator"},
		{`python_version < "3.12" and`, "expected a variable or a quoted string"},
		{`and == "x"`, "expected a variable or a quoted string"},
		{`python_version < "3.12" python_version`, `unexpected "python_version"`},
		{`(python_version < "3.12"`, "expected ) to close ( at offset 0"},
		{`python_version < "3.12")`, `unexpected ")"`},
		{`python_version < "3.12`, "unterminated string"},
		{`python_version < 3.12`, `unknown marker variable "3.12"`},
		{`foo == "x"`, `unknown marker variable "foo"`},
		{`os.name == "posix"`, `unknown marker variable "os.name"`},
		{`platform_release >= "5.10"`, "platform_release depends on the kernel"},
		{`platform_version == "x"`, "platform_version depends on the kernel"},
		{`python_full_version in "3.12.1 3.12.2"`, "can only be compared as a version"},
		{`"3.12" in implementation_version`, "can only be compared as a version"},
		{`python_full_version === "3.12.1"`, "can only be compared as a version"},
		{`python_version < "abc"`, `python_version < "abc": not a PEP 440 version`},
		{`python_version == "3.*.1"`, "not a PEP 440 version"},
		{`python_version < "3.12.*"`, "not a PEP 440 version"},
		{`python_version == "3.12rc1.*"`, "not a version prefix"},
		{`python_version != "3.12+local.*"`, "not a version prefix"},
		{`"3.*" == python_version`, "not a PEP 440 version"},
		{`python_version == platform_machine`, "platform_machine is not a version"},
		{`platform_machine ~= "x86"`, "~= compares versions"},
		{`python_version ~= "3"`, "~=3 needs at least two release numbers"},
		{strings.Repeat("(", 200) + `os_name == "posix"` + strings.Repeat(")", 200), "nested too deeply"},
		{`sys_platform == "linux" § os_name == "posix"`, "unexpected"},
	}
	for _, tt := range tests {
		_, err := ParseMarker(tt.marker)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseMarker(%s) error = %v, want %q", tt.marker, err, tt.want)
		}
	}
}

func TestMarkerString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`python_version<'3.12'`, `python_version < "3.12"`},
		{`python_version<'3.12' and(sys_platform=="linux" or os_name == "nt")`, `python_version < "3.12" and (sys_platform == "linux" or os_name == "nt")`},
		{`(os_name == "a" and os_name == "b") or os_name == "c"`, `os_name == "a" and os_name == "b" or os_name == "c"`},
		{`os_name == "a" or (os_name == "b" or os_name == "c")`, `os_name == "a" or os_name == "b" or os_name == "c"`},
		{`platform_machine == 'say "hi"'`, `platform_machine == 'say "hi"'`},
		{`"linux" not in sys_platform`, `"linux" not in sys_platform`},
	}
	for _, tt := range tests {
		m, err := ParseMarker(tt.in)
		if err != nil {
			t.Fatalf("ParseMarker(%s): %v", tt.in, err)
		}
		if got := m.String(); got != tt.want {
			t.Errorf("ParseMarker(%s).String() = %s, want %s", tt.in, got, tt.want)
		}
		// The canonical text means the same on every runtime.
		m2, err := ParseMarker(m.String())
		if err != nil {
			t.Fatalf("reparse %s: %v", m, err)
		}
		for _, rt := range target.SupportedRuntimes() {
			r, _ := target.ParseRuntime(rt)
			for _, a := range []target.Arch{target.X86_64, target.ARM64} {
				v1, err1 := m.Eval(r, a)
				v2, err2 := m2.Eval(r, a)
				if v1 != v2 || (err1 == nil) != (err2 == nil) {
					t.Errorf("%s and %s differ on %s/%s", tt.in, m, r, a)
				}
			}
		}
	}
}
