package wheel

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
)

func parseAll(t *testing.T, names ...string) []Filename {
	t.Helper()
	out := make([]Filename, len(names))
	for i, n := range names {
		f, err := ParseFilename(n)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = f
	}
	return out
}

func newTarget(t *testing.T, arch target.Arch, runtimes ...string) target.Target {
	t.Helper()
	tg, err := target.New(runtimes, string(arch))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func sharedName(s Selection) string {
	if s.Shared == nil {
		return ""
	}
	return s.Shared.Raw
}

func perRuntimeNames(s Selection) map[string]string {
	if s.PerRuntime == nil {
		return nil
	}
	out := map[string]string{}
	for r, f := range s.PerRuntime {
		out[r.String()] = f.Raw
	}
	return out
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name       string
		pkg, ver   string
		files      []string
		runtimes   []string
		arch       target.Arch
		shared     string
		perRuntime map[string]string
		why        string
	}{
		{
			name: "a wheel alone fitting every runtime is shared",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-py3-none-any.whl",
				"pkg-1.0-cp312-cp312-win_amd64.whl",
			},
			runtimes: []string{"python3.11", "python3.12"}, arch: x86,
			shared: "pkg-1.0-py3-none-any.whl",
			why:    "pkg 1.0: python3.11, python3.12 -> py3-none-any (the only wheel fitting every runtime)",
		},
		{
			// Adding a runtime must not swap compiled wheels for the pure
			// fallback (yarl, charset-normalizer).
			name: "compiled wheels beat a pure wheel fitting every runtime",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl",
				"pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
				"pkg-1.0-py3-none-any.whl",
			},
			runtimes: []string{"python3.11", "python3.12"}, arch: x86,
			perRuntime: map[string]string{
				"python3.11": "pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl",
				"python3.12": "pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
			},
			why: "pkg 1.0: per runtime: python3.11 -> cp311-cp311-manylinux2014_x86_64 (most specific of 2 fitting); " +
				"python3.12 -> cp312-cp312-manylinux2014_x86_64 (most specific of 2 fitting)",
		},
		{
			name: "exact CPython wheels beat an abi3 wheel fitting every runtime",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl",
				"pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
				"pkg-1.0-cp39-abi3-manylinux2014_x86_64.whl",
			},
			runtimes: []string{"python3.11", "python3.12"}, arch: x86,
			perRuntime: map[string]string{
				"python3.11": "pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl",
				"python3.12": "pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
			},
			why: "pkg 1.0: per runtime: python3.11 -> cp311-cp311-manylinux2014_x86_64 (most specific of 2 fitting); " +
				"python3.12 -> cp312-cp312-manylinux2014_x86_64 (most specific of 2 fitting)",
		},
		{
			name: "picks that coincide for some runtimes stay per runtime",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-cp310-abi3-manylinux2014_x86_64.whl",
				"pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
				"pkg-1.0-py3-none-any.whl",
			},
			runtimes: []string{"python3.10", "python3.11", "python3.12"}, arch: x86,
			perRuntime: map[string]string{
				"python3.10": "pkg-1.0-cp310-abi3-manylinux2014_x86_64.whl",
				"python3.11": "pkg-1.0-cp310-abi3-manylinux2014_x86_64.whl",
				"python3.12": "pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
			},
			why: "pkg 1.0: per runtime: python3.10 -> cp310-abi3-manylinux2014_x86_64 (most specific of 2 fitting); " +
				"python3.11 -> cp310-abi3-manylinux2014_x86_64 (most specific of 2 fitting); " +
				"python3.12 -> cp312-cp312-manylinux2014_x86_64 (most specific of 3 fitting)",
		},
		{
			name: "cp-specific wheels go per runtime",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl",
				"pkg-1.0-cp311-cp311-macosx_11_0_arm64.whl",
				"pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
				"pkg-1.0-cp312-cp312-musllinux_1_2_x86_64.whl",
			},
			runtimes: []string{"python3.11", "python3.12"}, arch: x86,
			perRuntime: map[string]string{
				"python3.11": "pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl",
				"python3.12": "pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
			},
			why: "pkg 1.0: per runtime: python3.11 -> cp311-cp311-manylinux2014_x86_64 (the only fitting wheel); " +
				"python3.12 -> cp312-cp312-manylinux2014_x86_64 (the only fitting wheel)",
		},
		{
			name: "per runtime, the highest fitting glibc",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-cp311-cp311-manylinux2014_aarch64.whl",
				"pkg-1.0-cp311-cp311-manylinux_2_28_aarch64.whl",
				"pkg-1.0-cp312-cp312-manylinux2014_aarch64.whl",
				"pkg-1.0-cp312-cp312-manylinux_2_28_aarch64.whl",
			},
			runtimes: []string{"python3.11", "python3.12"}, arch: arm,
			perRuntime: map[string]string{
				"python3.11": "pkg-1.0-cp311-cp311-manylinux2014_aarch64.whl",
				"python3.12": "pkg-1.0-cp312-cp312-manylinux_2_28_aarch64.whl",
			},
			why: "pkg 1.0: per runtime: python3.11 -> cp311-cp311-manylinux2014_aarch64 (the only fitting wheel); " +
				"python3.12 -> cp312-cp312-manylinux_2_28_aarch64 (most specific of 2 fitting)",
		},
		{
			name: "one runtime: the most specific wheel",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-py3-none-any.whl",
				"pkg-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
				"pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
				"pkg-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
			},
			runtimes: []string{"python3.12"}, arch: x86,
			shared: "pkg-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
			why:    "pkg 1.0: python3.12 -> cp312-cp312-manylinux_2_28_x86_64 (most specific of 4 fitting)",
		},
		{
			name: "every runtime's best is the same file: shared",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-cp39-abi3-manylinux_2_17_x86_64.whl",
				"pkg-1.0-cp310-abi3-manylinux_2_17_x86_64.whl",
				"pkg-1.0-py3-none-any.whl",
			},
			runtimes: []string{"python3.11", "python3.12"}, arch: x86,
			shared: "pkg-1.0-cp310-abi3-manylinux_2_17_x86_64.whl",
			why:    "pkg 1.0: python3.11, python3.12 -> cp310-abi3-manylinux_2_17_x86_64 (most specific for every runtime, of 3 fitting)",
		},
		{
			// The compressed wheel ranks higher on python3.12 (glibc 2.28)
			// but lower on python3.11 (2.17) than the 2.24 one: each
			// runtime gets its best, though either would load on both.
			name: "one wheel better on each runtime: per runtime",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-cp310-abi3-manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
				"pkg-1.0-cp310-abi3-manylinux_2_24_x86_64.whl",
			},
			runtimes: []string{"python3.11", "python3.12"}, arch: x86,
			perRuntime: map[string]string{
				"python3.11": "pkg-1.0-cp310-abi3-manylinux_2_24_x86_64.whl",
				"python3.12": "pkg-1.0-cp310-abi3-manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
			},
			why: "pkg 1.0: per runtime: python3.11 -> cp310-abi3-manylinux_2_24_x86_64 (most specific of 2 fitting); " +
				"python3.12 -> cp310-abi3-manylinux_2_17_x86_64.manylinux_2_28_x86_64 (most specific of 2 fitting)",
		},
		{
			name: "equal rank across runtimes: the lexically first filename, shared",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-py3-none-any.whl",
				"pkg-1.0-py2.py3-none-any.whl",
			},
			runtimes: []string{"python3.11", "python3.12"}, arch: x86,
			shared: "pkg-1.0-py2.py3-none-any.whl",
			why:    "pkg 1.0: python3.11, python3.12 -> py2.py3-none-any (most specific for every runtime, of 2 fitting)",
		},
		{
			name: "equal rank: the lexically first filename",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-py3-none-any.whl",
				"pkg-1.0-1-py3-none-any.whl",
				"pkg-1.0-py2.py3-none-any.whl",
			},
			runtimes: []string{"python3.12"}, arch: x86,
			shared: "pkg-1.0-1-py3-none-any.whl",
			why:    "pkg 1.0: python3.12 -> py3-none-any (most specific of 3 fitting)",
		},
		{
			name: "the same file listed twice counts once",
			pkg:  "pkg", ver: "1.0",
			files: []string{
				"pkg-1.0-py3-none-any.whl",
				"pkg-1.0-py3-none-any.whl",
			},
			runtimes: []string{"python3.12"}, arch: x86,
			shared: "pkg-1.0-py3-none-any.whl",
			why:    "pkg 1.0: python3.12 -> py3-none-any (the only fitting wheel)",
		},
		{
			name: "name and version match however spelled; other files are ignored",
			pkg:  "Pillow_HEIF", ver: "0.20",
			files: []string{
				"pillow_heif-0.20.0-py3-none-any.whl",
				"pillow_heif-0.19.0-cp312-cp312-manylinux_2_28_x86_64.whl",
				"pillow-0.20.0-cp312-cp312-manylinux_2_28_x86_64.whl",
			},
			runtimes: []string{"python3.12"}, arch: x86,
			shared: "pillow_heif-0.20.0-py3-none-any.whl",
			why:    "Pillow_HEIF 0.20: python3.12 -> py3-none-any (the only fitting wheel)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := Select(tt.pkg, tt.ver, parseAll(t, tt.files...), newTarget(t, tt.arch, tt.runtimes...))
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if got := sharedName(sel); got != tt.shared {
				t.Errorf("Shared = %q, want %q", got, tt.shared)
			}
			if got := perRuntimeNames(sel); !reflect.DeepEqual(got, tt.perRuntime) {
				t.Errorf("PerRuntime = %v, want %v", got, tt.perRuntime)
			}
			if sel.Why != tt.why {
				t.Errorf("Why = %q\nwant  %q", sel.Why, tt.why)
			}
		})
	}
}

// permutations calls fn with every ordering of s (Heap's algorithm).
func permutations(s []Filename, fn func([]Filename)) {
	s = append([]Filename(nil), s...)
	var gen func(k int)
	gen = func(k int) {
		if k <= 1 {
			fn(append([]Filename(nil), s...))
			return
		}
		for i := 0; i < k; i++ {
			gen(k - 1)
			if k%2 == 0 {
				s[i], s[k-1] = s[k-1], s[i]
			} else {
				s[0], s[k-1] = s[k-1], s[0]
			}
		}
	}
	gen(len(s))
}

// TestSelectIgnoresInputOrder runs Select on every ordering of the files:
// an index listing files in another order must not change the layer.
func TestSelectIgnoresInputOrder(t *testing.T) {
	tests := []struct {
		name     string
		files    []string
		runtimes []string
	}{
		{"shared", []string{
			"pkg-1.0-py3-none-any.whl",
			"pkg-1.0-1-py3-none-any.whl",
			"pkg-1.0-py2.py3-none-any.whl",
			"pkg-1.0-cp39-abi3-manylinux2014_x86_64.whl",
			"pkg-1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			"pkg-1.0-cp39-abi3-manylinux_2_17_x86_64.whl",
		}, []string{"python3.11", "python3.12"}},
		{"per runtime, picks coinciding", []string{
			"pkg-1.0-cp310-abi3-manylinux2014_x86_64.whl",
			"pkg-1.0-cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			"pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
			"pkg-1.0-1-cp312-cp312-manylinux2014_x86_64.whl",
			"pkg-1.0-py3-none-any.whl",
			"pkg-1.0-cp311-cp311-win_amd64.whl",
		}, []string{"python3.10", "python3.11", "python3.12"}},
		{"per runtime", []string{
			"pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl",
			"pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
			"pkg-1.0-1-cp311-cp311-manylinux2014_x86_64.whl",
			"pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
			"pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
			"pkg-1.0-cp312-cp312-win_amd64.whl",
		}, []string{"python3.11", "python3.12"}},
		{"no fit", []string{
			"pkg-1.0-cp311-cp311-win_amd64.whl",
			"pkg-1.0-cp311-cp311-macosx_11_0_arm64.whl",
			"pkg-1.0-cp312-cp312-musllinux_1_2_x86_64.whl",
			"pkg-1.0-cp312-cp312-manylinux_2_35_x86_64.whl",
			"pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
			"pkg-0.9-py3-none-any.whl",
		}, []string{"python3.11", "python3.12"}},
		{"some fit", []string{
			"pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
			"pkg-1.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
			"pkg-1.0-cp311-cp311-win_amd64.whl",
			"pkg-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
			"pkg-1.0-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
			"pkg-1.0-cp312-cp312-win_amd64.whl",
		}, []string{"python3.11", "python3.12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTarget(t, x86, tt.runtimes...)
			files := parseAll(t, tt.files...)
			want, wantErr := Select("pkg", "1.0", files, tg)
			n := 0
			permutations(files, func(p []Filename) {
				n++
				got, err := Select("pkg", "1.0", p, tg)
				if fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Fatalf("order %d: error %v, want %v", n, err, wantErr)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("order %d: %+v, want %+v", n, got, want)
				}
			})
			if n != 720 {
				t.Errorf("tried %d orders, want 720", n)
			}
		})
	}
}

func TestSelectNoneFits(t *testing.T) {
	tg := newTarget(t, x86, "python3.11", "python3.12")
	files := parseAll(t,
		"pkg-2.0-cp311-cp311-win_amd64.whl",
		"pkg-2.0-cp312-cp312-macosx_11_0_arm64.whl",
		"pkg-2.0-cp311-cp311-manylinux_2_28_x86_64.whl",
		"pkg-1.9-py3-none-any.whl",
	)
	_, err := Select("pkg", "2.0", files, tg)
	if err == nil {
		t.Fatal("Select succeeded, want an error")
	}
	msg := err.Error()
	lines := strings.Split(msg, "\n")
	want := []string{
		"pkg 2.0: no wheel fits python3.11,python3.12/x86_64 (4 files considered):",
		// The nearest miss first: only its glibc keeps it off python3.11.
		"  pkg-2.0-cp311-cp311-manylinux_2_28_x86_64.whl: python3.11: manylinux_2_28 needs glibc 2.28; python3.11 runs on glibc 2.26 (Amazon Linux 2); " +
			"python3.12: cp311 wheel, runtime python3.12 needs cp312 or abi3",
		"  pkg-2.0-cp311-cp311-win_amd64.whl: python3.11, python3.12: Windows wheel; Lambda runs Linux",
		"  pkg-2.0-cp312-cp312-macosx_11_0_arm64.whl: python3.11, python3.12: macOS wheel; Lambda runs Linux",
		"  pkg-1.9-py3-none-any.whl: is pkg 1.9, not pkg 2.0",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("error:\n%s\nwant:\n%s", msg, strings.Join(want, "\n"))
	}
}

func TestSelectNoneFitsCapsList(t *testing.T) {
	var names []string
	for m := 0; m < 12; m++ {
		names = append(names, fmt.Sprintf("pkg-1.0-cp312-cp312-macosx_%d_0_arm64.whl", 10+m))
	}
	_, err := Select("pkg", "1.0", parseAll(t, names...), newTarget(t, arm, "python3.12"))
	if err == nil {
		t.Fatal("Select succeeded, want an error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 1+maxListed+1 {
		t.Errorf("error has %d lines, want a header, %d files and a count:\n%s", len(lines), maxListed, err)
	}
	if last := lines[len(lines)-1]; last != "  and 4 more" {
		t.Errorf("last line %q, want %q", last, "  and 4 more")
	}
	if !strings.Contains(lines[0], "(12 files considered)") {
		t.Errorf("header %q does not count the files", lines[0])
	}
}

func TestSelectNoFiles(t *testing.T) {
	_, err := Select("pkg", "1.0", nil, newTarget(t, x86, "python3.12"))
	if err == nil || err.Error() != "pkg 1.0: no wheel fits python3.12/x86_64: no files to choose from" {
		t.Errorf("error = %v", err)
	}
}

func TestSelectSomeRuntimesFit(t *testing.T) {
	files := parseAll(t,
		"rawpy-0.26.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
		"rawpy-0.26.1-cp311-cp311-win_amd64.whl",
		"rawpy-0.26.1-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
		"rawpy-0.26.1-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
	)
	tests := []struct {
		runtimes []string
		want     string
	}{
		{[]string{"python3.11", "python3.12"},
			"rawpy 0.26.1: python3.12 has a fitting wheel (rawpy-0.26.1-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl) " +
				"but python3.11 has none: manylinux_2_27 needs glibc 2.27; python3.11 runs on glibc 2.26 (Amazon Linux 2)\n" +
				"  closest for python3.11: rawpy-0.26.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl\n" +
				"  pin a rawpy version with wheels for python3.11 too, or build for python3.12 only"},
		{[]string{"python3.10", "python3.12", "python3.13"},
			"rawpy 0.26.1: python3.12, python3.13 have fitting wheels (rawpy-0.26.1-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl, " +
				"rawpy-0.26.1-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl) " +
				"but python3.10 has none: cp311 wheel, runtime python3.10 needs cp310 or abi3\n" +
				"  closest for python3.10: rawpy-0.26.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl\n" +
				"  pin a rawpy version with wheels for python3.10 too, or build for python3.12, python3.13 only"},
	}
	for _, tt := range tests {
		_, err := Select("rawpy", "0.26.1", files, newTarget(t, x86, tt.runtimes...))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v: error =\n%v\nwant\n%s", tt.runtimes, err, tt.want)
		}
	}
}

func TestSelectBadInput(t *testing.T) {
	files := parseAll(t, "pkg-1.0-py3-none-any.whl")
	if _, err := Select("pkg", "latest", files, newTarget(t, x86, "python3.12")); err == nil ||
		!strings.Contains(err.Error(), `pkg latest: version "latest" is not a PEP 440 version`) {
		t.Errorf("bad version: error = %v", err)
	}
	if _, err := Select("pkg", "1.0", files, target.Target{Arch: x86}); err == nil ||
		!strings.Contains(err.Error(), "names no runtime") {
		t.Errorf("empty target: error = %v", err)
	}
}

// A file name an index made a megabyte long is echoed clipped, both when
// it does not parse and when it parses but fits no runtime.
func TestLongFilenamesAreClipped(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	for _, name := range []string{
		long + ".whl",                            // not five parts
		"pkg-" + long + "-py3-none-any.whl",      // a bad version
		"pkg-1.0-py3-none-" + long + "!.whl",     // a bad tag
		"pkg-1.0-" + long + ".tar.gz",            // an sdist
		"pkg-1.0-py3-none-any.whl/" + long,       // a path
		"pkg-1.0-" + long + "7-py3-none-any.whl", // a bad build tag
	} {
		_, err := ParseFilename(name)
		if err == nil {
			t.Fatalf("ParseFilename(%.40q...) succeeded", name)
		}
		if len(err.Error()) > 1000 || !strings.Contains(err.Error(), "bytes)") {
			t.Errorf("ParseFilename(%.40q...): error of %d bytes: %.300q", name, len(err.Error()), err)
		}
	}
	files := parseAll(t,
		"pkg-1.0-cp312-cp312-manylinux_2_17_"+long+".whl",
		"pkg-1.0-cp312-"+long+"-any.whl",
		"pkg-1.0-"+long+"-none-any.whl",
		"pkg-1.0-cp312-cp312-"+long+".whl",
	)
	_, err := Select("pkg", "1.0", files, newTarget(t, x86, "python3.12"))
	if err == nil {
		t.Fatal("Select succeeded, want an error")
	}
	if len(err.Error()) > 4000 {
		t.Errorf("error of %d bytes: %.600q", len(err.Error()), err)
	}
}
