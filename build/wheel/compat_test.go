package wheel

import (
	"fmt"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
)

const (
	x86 = target.X86_64
	arm = target.ARM64
)

func py(minor int) target.Runtime { return target.Runtime{Minor: minor} }

// tagged parses a wheel filename for package "pkg" with the given tag.
func tagged(t *testing.T, tag string) Filename {
	t.Helper()
	f, err := ParseFilename("pkg-1.0-" + tag + ".whl")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFit(t *testing.T) {
	const (
		al2   = "python3.11 runs on glibc 2.26 (Amazon Linux 2)"
		al2_9 = "python3.9 runs on glibc 2.26 (Amazon Linux 2)"
	)
	tests := []struct {
		tag    string
		minor  int
		arch   target.Arch
		ok     bool
		reason string // the exact reason, when !ok
	}{
		// CPython-specific wheels fit only their own runtime.
		{"cp311-cp311-manylinux2014_x86_64", 11, x86, true, ""},
		{"cp311-cp311-manylinux2014_x86_64", 12, x86, false, "cp311 wheel, runtime python3.12 needs cp312 or abi3"},
		{"cp312-cp312-manylinux2014_x86_64", 11, x86, false, "cp312 wheel, runtime python3.11 needs cp311 or abi3"},
		{"cp39-cp39-manylinux2014_aarch64", 9, arm, true, ""},
		{"cp314-cp314-manylinux2014_aarch64", 14, arm, true, ""},
		{"cp313-cp313-manylinux2014_x86_64", 14, x86, false, "cp313 wheel, runtime python3.14 needs cp314 or abi3"},
		{"cp27-cp27mu-manylinux1_x86_64", 12, x86, false, "cp27 wheel is for Python 2; runtime python3.12 is Python 3"},
		// cpXY-none: CPython-specific, no ABI dependency.
		{"cp311-none-any", 11, x86, true, ""},
		{"cp311-none-manylinux_2_17_x86_64", 11, x86, true, ""},
		{"cp311-none-any", 12, x86, false, "cp311 wheel, runtime python3.12 needs cp312 or abi3"},
		// abi3: CPython 3.2 onwards, forward compatible only.
		{"cp32-abi3-manylinux2014_x86_64", 9, x86, true, ""},
		{"cp39-abi3-manylinux2014_x86_64", 12, x86, true, ""},
		{"cp312-abi3-manylinux2014_x86_64", 12, x86, true, ""},
		{"cp313-abi3-manylinux2014_x86_64", 12, x86, false, "cp313-abi3 wheel needs CPython 3.13 or later; runtime is python3.12"},
		{"cp31-abi3-manylinux2014_x86_64", 12, x86, false, "cp31-abi3 is not a valid tag: the stable ABI starts at CPython 3.2"},
		// Generic Python.
		{"py3-none-any", 9, x86, true, ""},
		{"py2.py3-none-any", 12, arm, true, ""},
		{"py2-none-any", 12, x86, false, "py2 wheel is for Python 2; runtime python3.12 is Python 3"},
		{"py30-none-any", 9, x86, true, ""},
		{"py311-none-any", 12, x86, true, ""},
		{"py312-none-any", 12, x86, true, ""},
		{"py312-none-any", 11, x86, false, "py312 wheel needs Python 3.12 or later; runtime is python3.11"},
		{"py3-abi3-any", 12, x86, false, "py3-abi3 is not a tag CPython on python3.12 loads (want cp312, abi3 or py3)"},
		{"cp3-none-any", 12, x86, false, "cp3-none is not a tag CPython on python3.12 loads (want cp312, abi3 or py3)"},
		// Other interpreters and builds of CPython Lambda does not run.
		{"pp310-pypy310_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64", 12, x86, false, "pp310 wheel is for PyPy; Lambda runs CPython"},
		{"graalpy311-graalpy242_311_native-manylinux_2_17_x86_64", 11, x86, false, "graalpy311 wheel is for GraalPy; Lambda runs CPython"},
		{"jy27-none-any", 11, x86, false, "jy27 wheel is for Jython; Lambda runs CPython"},
		{"cp311-cp311d-manylinux2014_x86_64", 11, x86, false, "cp311d ABI is a debug build of CPython; Lambda runs the release build (cp311)"},
		{"cp313-cp313t-manylinux2014_x86_64", 13, x86, false, "cp313t ABI is free-threaded CPython; Lambda runs the default build (cp313)"},
		{"cp313-cp313t-manylinux2014_x86_64", 12, x86, false, "cp313 wheel, runtime python3.12 needs cp312 or abi3"},
		// glibc: Amazon Linux 2 (2.26) for python3.9-3.11.
		{"cp311-cp311-manylinux_2_26_x86_64", 11, x86, true, ""},
		{"cp311-cp311-manylinux_2_27_x86_64", 11, x86, false, "manylinux_2_27 needs glibc 2.27; " + al2},
		{"cp311-cp311-manylinux_2_28_x86_64", 11, x86, false, "manylinux_2_28 needs glibc 2.28; " + al2},
		{"cp311-cp311-manylinux_2_28_aarch64", 11, arm, false, "manylinux_2_28 needs glibc 2.28; " + al2},
		{"cp39-cp39-manylinux_2_27_x86_64", 9, x86, false, "manylinux_2_27 needs glibc 2.27; " + al2_9},
		{"cp310-cp310-manylinux_2_26_aarch64", 10, arm, true, ""},
		// glibc: Amazon Linux 2023 (2.34) for python3.12+.
		{"cp312-cp312-manylinux_2_28_x86_64", 12, x86, true, ""},
		{"cp312-cp312-manylinux_2_34_x86_64", 12, x86, true, ""},
		{"cp312-cp312-manylinux_2_35_x86_64", 12, x86, false, "manylinux_2_35 needs glibc 2.35; python3.12 runs on glibc 2.34 (Amazon Linux 2023)"},
		{"cp313-cp313-manylinux_2_35_aarch64", 13, arm, false, "manylinux_2_35 needs glibc 2.35; python3.13 runs on glibc 2.34 (Amazon Linux 2023)"},
		{"cp314-cp314-manylinux_2_34_aarch64", 14, arm, true, ""},
		// Legacy manylinux names are aliases of glibc versions.
		{"cp311-cp311-manylinux1_x86_64", 11, x86, true, ""},
		{"cp311-cp311-manylinux2010_x86_64", 11, x86, true, ""},
		{"cp311-cp311-manylinux2014_aarch64", 11, arm, true, ""},
		{"cp311-cp311-manylinux_2_17_aarch64", 11, arm, true, ""},
		{"cp311-cp311-manylinux_2_5_x86_64", 11, x86, true, ""},
		{"cp311-cp311-manylinux1_aarch64", 11, arm, false, "manylinux1_aarch64 is not a valid tag: manylinux1 is defined only for x86_64 and i686"},
		{"cp311-cp311-manylinux2010_aarch64", 11, arm, false, "manylinux2010_aarch64 is not a valid tag: manylinux2010 is defined only for x86_64 and i686"},
		{"cp311-cp311-manylinux_2_x86_64", 11, x86, false, "platform tag manylinux_2_x86_64 is not a valid manylinux tag (manylinux_X_Y_machine, manylinux2014_machine, ...)"},
		// Architecture.
		{"cp311-cp311-manylinux2014_aarch64", 11, x86, false, "aarch64 wheel; target architecture is x86_64 (machine x86_64)"},
		{"cp311-cp311-manylinux2014_x86_64", 11, arm, false, "x86_64 wheel; target architecture is arm64 (machine aarch64)"},
		{"cp311-cp311-manylinux2014_i686", 11, x86, false, "i686 wheel; target architecture is x86_64 (machine x86_64)"},
		{"cp311-cp311-manylinux2014_ppc64le", 11, arm, false, "ppc64le wheel; target architecture is arm64 (machine aarch64)"},
		// Platforms Lambda does not run.
		{"cp311-cp311-musllinux_1_2_x86_64", 11, x86, false, "musllinux wheels need musl libc; Lambda runs glibc"},
		{"cp311-cp311-macosx_11_0_arm64", 11, arm, false, "macOS wheel; Lambda runs Linux"},
		{"cp311-cp311-macosx_10_9_x86_64", 11, x86, false, "macOS wheel; Lambda runs Linux"},
		{"cp311-cp311-win_amd64", 11, x86, false, "Windows wheel; Lambda runs Linux"},
		{"cp311-cp311-win32", 11, x86, false, "Windows wheel; Lambda runs Linux"},
		{"cp311-cp311-win_arm64", 11, arm, false, "Windows wheel; Lambda runs Linux"},
		{"cp311-cp311-linux_x86_64", 11, x86, false, "linux_x86_64 is not a manylinux tag: the wheel was built for one machine and may not run on Lambda"},
		{"cp311-cp311-linux_aarch64", 11, arm, false, "linux_aarch64 is not a manylinux tag: the wheel was built for one machine and may not run on Lambda"},
		{"cp313-cp313-ios_13_0_arm64_iphoneos", 13, arm, false, "iOS wheel; Lambda runs Linux"},
		{"cp312-cp312-emscripten_3_1_58_wasm32", 12, x86, false, "platform tag emscripten_3_1_58_wasm32 is not one Lambda runs: want manylinux (glibc Linux) or any"},
		// When several things are wrong the reason names the one to act on:
		// a wrong platform makes the interpreter moot, and a wrong
		// interpreter makes the glibc moot.
		{"cp310-cp310-win_amd64", 12, x86, false, "Windows wheel; Lambda runs Linux"},
		{"pp310-pypy310_pp73-macosx_10_15_x86_64", 12, x86, false, "macOS wheel; Lambda runs Linux"},
		{"cp312-cp312-manylinux_2_28_x86_64", 11, x86, false, "cp312 wheel, runtime python3.11 needs cp311 or abi3"},
		// Compressed tag sets fit when one combination does; a miss names
		// the nearest one (the lowest glibc, the right machine).
		{"cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64", 11, x86, false, "manylinux_2_27 needs glibc 2.27; " + al2},
		{"cp311-cp311-manylinux_2_26_aarch64.manylinux_2_28_aarch64", 11, arm, true, ""},
		{"cp311-cp311-musllinux_1_2_x86_64.manylinux_2_28_x86_64", 11, x86, false, "manylinux_2_28 needs glibc 2.28; " + al2},
		{"cp311-cp311-manylinux2014_aarch64.manylinux_2_17_aarch64.manylinux_2_28_aarch64", 11, x86, false, "aarch64 wheel; target architecture is x86_64 (machine x86_64)"},
		{"cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64", 11, x86, true, ""},
		{"cp311.cp312-cp311.cp312-manylinux2014_x86_64", 12, x86, true, ""},
		{"cp311.cp312-cp311.cp312-manylinux2014_x86_64", 13, x86, false, "cp311 wheel, runtime python3.13 needs cp313 or abi3"},
		{"py2.py3-none-any", 9, x86, true, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/python3.%d/%s", tt.tag, tt.minor, tt.arch), func(t *testing.T) {
			got := tagged(t, tt.tag).Fit(py(tt.minor), tt.arch)
			if got.OK != tt.ok || got.Reason != tt.reason {
				t.Errorf("Fit = {OK: %v, Reason: %q}, want {OK: %v, Reason: %q}", got.OK, got.Reason, tt.ok, tt.reason)
			}
			if got.OK && got.Rank <= 0 {
				t.Errorf("fitting wheel has Rank %d, want > 0", got.Rank)
			}
			if !got.OK && got.Rank != 0 {
				t.Errorf("non-fitting wheel has Rank %d, want 0", got.Rank)
			}
		})
	}
}

// TestFitEveryRuntime applies each rule at its boundary for every Lambda
// Python runtime on both architectures.
func TestFitEveryRuntime(t *testing.T) {
	// What Lambda runs each runtime on, independently of package target.
	glibcMinor := map[int]int{9: 26, 10: 26, 11: 26, 12: 34, 13: 34, 14: 34}
	osName := map[int]string{9: "Amazon Linux 2", 10: "Amazon Linux 2", 11: "Amazon Linux 2",
		12: "Amazon Linux 2023", 13: "Amazon Linux 2023", 14: "Amazon Linux 2023"}
	other := map[target.Arch]string{x86: "aarch64", arm: "x86_64"}
	machine := map[target.Arch]string{x86: "x86_64", arm: "aarch64"}
	for m := 9; m <= 14; m++ {
		for _, a := range []target.Arch{x86, arm} {
			mach, g := machine[a], glibcMinor[m]
			rt := fmt.Sprintf("python3.%d", m)
			cases := []struct {
				tag    string
				reason string // "" means it fits
			}{
				{fmt.Sprintf("cp3%d-cp3%d-manylinux2014_%s", m, m, mach), ""},
				{fmt.Sprintf("cp3%d-cp3%d-manylinux2014_%s", m-1, m-1, mach), fmt.Sprintf("cp3%d wheel, runtime %s needs cp3%d or abi3", m-1, rt, m)},
				{fmt.Sprintf("cp3%d-cp3%d-manylinux2014_%s", m+1, m+1, mach), fmt.Sprintf("cp3%d wheel, runtime %s needs cp3%d or abi3", m+1, rt, m)},
				{fmt.Sprintf("cp3%d-none-any", m), ""},
				{fmt.Sprintf("cp3%d-none-any", m-1), fmt.Sprintf("cp3%d wheel, runtime %s needs cp3%d or abi3", m-1, rt, m)},
				{"cp32-abi3-manylinux2014_" + mach, ""},
				{fmt.Sprintf("cp3%d-abi3-manylinux2014_%s", m-1, mach), ""},
				{fmt.Sprintf("cp3%d-abi3-manylinux2014_%s", m, mach), ""},
				{fmt.Sprintf("cp3%d-abi3-manylinux2014_%s", m+1, mach), fmt.Sprintf("cp3%d-abi3 wheel needs CPython 3.%d or later; runtime is %s", m+1, m+1, rt)},
				{"py3-none-any", ""},
				{"py2.py3-none-any", ""},
				{fmt.Sprintf("py3%d-none-any", m), ""},
				{fmt.Sprintf("py3%d-none-any", m+1), fmt.Sprintf("py3%d wheel needs Python 3.%d or later; runtime is %s", m+1, m+1, rt)},
				{fmt.Sprintf("cp3%d-cp3%d-manylinux_2_%d_%s", m, m, g, mach), ""},
				{fmt.Sprintf("cp3%d-cp3%d-manylinux_2_%d_%s", m, m, g+1, mach),
					fmt.Sprintf("manylinux_2_%d needs glibc 2.%d; %s runs on glibc 2.%d (%s)", g+1, g+1, rt, g, osName[m])},
				{fmt.Sprintf("cp3%d-cp3%d-manylinux2014_%s", m, m, other[a]), fmt.Sprintf("%s wheel; target architecture is %s (machine %s)", other[a], a, mach)},
				{fmt.Sprintf("cp3%d-cp3%d-musllinux_1_2_%s", m, m, mach), "musllinux wheels need musl libc; Lambda runs glibc"},
				{fmt.Sprintf("cp3%d-cp3%d-linux_%s", m, m, mach), fmt.Sprintf("linux_%s is not a manylinux tag: the wheel was built for one machine and may not run on Lambda", mach)},
				{fmt.Sprintf("cp3%d-cp3%dd-manylinux2014_%s", m, m, mach), fmt.Sprintf("cp3%dd ABI is a debug build of CPython; Lambda runs the release build (cp3%d)", m, m)},
				{fmt.Sprintf("pp3%d-pypy3%d_pp73-manylinux2014_%s", m, m, mach), fmt.Sprintf("pp3%d wheel is for PyPy; Lambda runs CPython", m)},
			}
			for _, c := range cases {
				got := tagged(t, c.tag).Fit(py(m), a)
				if got.OK != (c.reason == "") || got.Reason != c.reason {
					t.Errorf("%s on %s/%s: Fit = {OK: %v, Reason: %q}, want reason %q", c.tag, rt, a, got.OK, got.Reason, c.reason)
				}
			}
		}
	}
}

func TestFitRejectsUnknownRuntimeAndArch(t *testing.T) {
	f := tagged(t, "py3-none-any")
	if got := f.Fit(py(8), x86); got.OK || !strings.Contains(got.Reason, "python3.8 is not a Lambda Python runtime") {
		t.Errorf("python3.8: %+v, want refused naming the runtime", got)
	}
	if got := f.Fit(py(12), target.Arch("ppc64le")); got.OK || !strings.Contains(got.Reason, `"ppc64le" is not a Lambda architecture`) {
		t.Errorf("ppc64le: %+v, want refused naming the architecture", got)
	}
	if got := (Filename{Raw: "x.whl"}).Fit(py(12), x86); got.OK || got.Reason == "" {
		t.Errorf("zero Filename: %+v, want refused with a reason", got)
	}
}

// TestRankOrder checks the preference order pip would apply on python3.12
// x86_64: interpreter/ABI specificity first, then the highest fitting glibc.
func TestRankOrder(t *testing.T) {
	order := []string{
		"cp312-cp312-manylinux_2_34_x86_64",
		"cp312-cp312-manylinux_2_28_x86_64",
		"cp312-cp312-manylinux2014_x86_64",
		"cp312-cp312-manylinux2010_x86_64",
		"cp312-cp312-manylinux1_x86_64",
		"cp312-cp312-any",
		"cp312-abi3-manylinux_2_17_x86_64",
		"cp311-abi3-manylinux_2_28_x86_64", // higher glibc, older stable ABI
		"cp311-abi3-manylinux_2_17_x86_64",
		"cp38-abi3-manylinux_2_34_x86_64",
		"cp32-abi3-any",
		"cp312-none-manylinux_2_17_x86_64",
		"cp312-none-any",
		"py312-none-manylinux_2_17_x86_64",
		"py312-none-any",
		"py311-none-any",
		"py30-none-any",
		"py3-none-manylinux_2_17_x86_64",
		"py3-none-any",
	}
	prev, prevTag := 0, ""
	for i, tag := range order {
		fit := tagged(t, tag).Fit(py(12), x86)
		if !fit.OK {
			t.Fatalf("%s does not fit python3.12: %s", tag, fit.Reason)
		}
		if i > 0 && fit.Rank >= prev {
			t.Errorf("Rank(%s) = %d, want < Rank(%s) = %d", tag, fit.Rank, prevTag, prev)
		}
		prev, prevTag = fit.Rank, tag
	}
}

// TestRankEquivalences checks that aliases rank the same and that a
// compressed tag set ranks as its best fitting combination.
func TestRankEquivalences(t *testing.T) {
	tests := []struct {
		a, b  string
		minor int
		arch  target.Arch
	}{
		{"cp311-cp311-manylinux2014_x86_64", "cp311-cp311-manylinux_2_17_x86_64", 11, x86},
		{"cp311-cp311-manylinux2014_aarch64", "cp311-cp311-manylinux_2_17_aarch64", 11, arm},
		{"cp311-cp311-manylinux2010_x86_64", "cp311-cp311-manylinux_2_12_x86_64", 11, x86},
		{"cp311-cp311-manylinux1_x86_64", "cp311-cp311-manylinux_2_5_x86_64", 11, x86},
		{"py2.py3-none-any", "py3-none-any", 12, x86},
		{"cp39-abi3-manylinux_2_17_x86_64.manylinux_2_28_x86_64", "cp39-abi3-manylinux_2_17_x86_64", 11, x86},
		{"cp39-abi3-manylinux_2_17_x86_64.manylinux_2_28_x86_64", "cp39-abi3-manylinux_2_28_x86_64", 12, x86},
		{"cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64", "cp311-cp311-manylinux_2_17_x86_64", 11, x86},
		{"cp311.cp312-cp311.cp312-manylinux2014_x86_64", "cp312-cp312-manylinux2014_x86_64", 12, x86},
		{"cp39.cp310-abi3-any", "cp310-abi3-any", 12, x86},
	}
	for _, tt := range tests {
		fa := tagged(t, tt.a).Fit(py(tt.minor), tt.arch)
		fb := tagged(t, tt.b).Fit(py(tt.minor), tt.arch)
		if !fa.OK || !fb.OK || fa.Rank != fb.Rank {
			t.Errorf("python3.%d/%s: %s -> %+v, %s -> %+v; want both fitting with equal Rank", tt.minor, tt.arch, tt.a, fa, tt.b, fb)
		}
	}
}

func TestFitTarget(t *testing.T) {
	both := func(arch target.Arch) target.Target {
		tg, err := target.New([]string{"python3.12", "python3.11"}, string(arch))
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	tests := []struct {
		file   string
		tg     target.Target
		ok     bool
		reason string
	}{
		{"six-1.17.0-py2.py3-none-any.whl", both(x86), true, ""},
		{"numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", both(x86), false,
			"python3.12: cp311 wheel, runtime python3.12 needs cp312 or abi3"},
		{"numpy-2.1.3-cp312-cp312-macosx_14_0_arm64.whl", both(arm), false,
			"python3.11, python3.12: macOS wheel; Lambda runs Linux"},
		{"rawpy-0.26.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", both(x86), false,
			"python3.11: manylinux_2_27 needs glibc 2.27; python3.11 runs on glibc 2.26 (Amazon Linux 2); " +
				"python3.12: cp311 wheel, runtime python3.12 needs cp312 or abi3"},
		{"foo-1.0-cp39-abi3-manylinux_2_28_x86_64.whl", both(x86), false,
			"python3.11: manylinux_2_28 needs glibc 2.28; python3.11 runs on glibc 2.26 (Amazon Linux 2)"},
		{"foo-1.0-cp39-abi3-manylinux_2_17_aarch64.whl", both(arm), true, ""},
		{"foo-1.0-py3-none-any.whl", target.Target{Arch: x86}, false, "target /x86_64 names no runtime"},
	}
	for _, tt := range tests {
		f, err := ParseFilename(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		ok, reason := f.FitTarget(tt.tg)
		if ok != tt.ok || reason != tt.reason {
			t.Errorf("%s on %s: FitTarget = %v, %q; want %v, %q", tt.file, tt.tg, ok, reason, tt.ok, tt.reason)
		}
	}
}
