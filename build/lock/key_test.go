package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
)

func mustTarget(t testing.TB, arch string, runtimes ...string) target.Target {
	t.Helper()
	tg, err := target.New(runtimes, arch)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func mustParse(t testing.TB, name, text string) *Lock {
	t.Helper()
	l, err := Parse(name, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestFor(t *testing.T) {
	l := mustParse(t, "r.txt", `numpy==2.1.3 --hash=sha256:`+h(1)+`
tomli==2.0.1 ; python_version < "3.11" --hash=sha256:`+h(2)+`
pywin32==306 ; sys_platform == "win32" --hash=sha256:`+h(3)+`
uvloop==0.21.0 ; platform_machine == "aarch64" --hash=sha256:`+h(4)+`
`)
	// Built by hand, unsorted: For must still report runtimes oldest first.
	tg := target.Target{Runtimes: []target.Runtime{{Minor: 12}, {Minor: 10}, {Minor: 11}}, Arch: target.X86_64}
	var got []string
	for _, a := range l.For(tg) {
		var rs []string
		for _, r := range a.Runtimes {
			rs = append(rs, r.String())
		}
		got = append(got, a.Name+" "+strings.Join(rs, ","))
	}
	want := []string{"numpy python3.10,python3.11,python3.12", "tomli python3.10"}
	if !slices.Equal(got, want) {
		t.Errorf("For = %q, want %q", got, want)
	}
	arm := l.For(mustTarget(t, "arm64", "python3.12"))
	if len(arm) != 2 || arm[0].Name != "numpy" || arm[1].Name != "uvloop" || arm[1].Version != "0.21.0" {
		t.Errorf("For(arm64) = %+v", arm)
	}
}

// The canonical text is the key's definition: any change to its format
// changes every layer key (and rebuilds every layer), so it is pinned here.
func TestCanonicalFormat(t *testing.T) {
	l := mustParse(t, "r.txt", `Pillow_HEIF==0.20.0 --hash=sha256:`+h(2)+` --hash=sha256:`+h(1)+`
tomli==2.0.1 ; python_version < "3.12" --hash=sha256:`+h(3)+`
numpy==2.1.3 ; python_version >= "3.11" --hash=sha256:`+h(4)+`
`)
	got := Canonical(l, mustTarget(t, "x86_64", "python3.12", "python3.11"), Options{})
	want := "lambdapack layer key v2\n" +
		"target python3.11,python3.12/x86_64\n" +
		"bytecode on\n" +
		"numpy==2.1.3 sha256:" + h(4) + "\n" +
		"pillow-heif==0.20.0 sha256:" + h(1) + ",sha256:" + h(2) + "\n" +
		"tomli==2.0.1 sha256:" + h(3) + " [python3.11]\n"
	if got != want {
		t.Errorf("Canonical =\n%s\nwant\n%s", got, want)
	}
	tg := mustTarget(t, "x86_64", "python3.11", "python3.12")
	sum := sha256.Sum256([]byte(want))
	if k := Key(l, tg, Options{}); k != hex.EncodeToString(sum[:]) {
		t.Errorf("Key = %s, want the sha256 of the canonical text", k)
	}
}

// Sorting is by name, so "foo" comes before "foo-bar" although '-' sorts
// before '=' in the lines themselves.
func TestCanonicalSortsByName(t *testing.T) {
	l := mustParse(t, "r.txt", "foo-bar==1.0 --hash=sha256:"+h(1)+"\nfoo==1.0 --hash=sha256:"+h(2)+"\n")
	lines := strings.Split(Canonical(l, mustTarget(t, "x86_64", "python3.12"), Options{}), "\n")
	if !strings.HasPrefix(lines[3], "foo==") || !strings.HasPrefix(lines[4], "foo-bar==") {
		t.Errorf("lines %q, want foo before foo-bar", lines[3:])
	}
}

const baseLock = `# base
numpy==2.1.3 \
    --hash=sha256:` + "0000000000000000000000000000000000000000000000000000000000000001" + ` \
    --hash=sha256:` + "0000000000000000000000000000000000000000000000000000000000000002" + `
    # via pillow-heif
pillow==11.0.0 \
    --hash=sha256:` + "0000000000000000000000000000000000000000000000000000000000000003" + `
pillow-heif==0.20.0 \
    --hash=sha256:` + "0000000000000000000000000000000000000000000000000000000000000004" + `
tomli==2.0.1 ; python_version < "3.12" \
    --hash=sha256:` + "0000000000000000000000000000000000000000000000000000000000000005" + `
`

func TestKeyInvariant(t *testing.T) {
	tg := mustTarget(t, "x86_64", "python3.11", "python3.12")
	base := Key(mustParse(t, "requirements.txt", baseLock), tg, Options{})
	tests := []struct {
		name, file, text string
	}{
		{"same text", "requirements.txt", baseLock},
		{"another file name and path", "/home/someone/src/layer/requirements-lock.txt", baseLock},
		{"comments and blank lines", "r.txt", "# generated\n\n\n" + strings.ReplaceAll(baseLock, "\npillow==", "\n\n# image libraries\n\npillow==") + "\n# end\n"},
		{"via comments removed", "r.txt", strings.ReplaceAll(baseLock, "    # via pillow-heif\n", "")},
		{"trailing comments", "r.txt", strings.NewReplacer(h(2)+"\n", h(2)+"  # numpy\n", h(3)+"\n", h(3)+"\t# from PyPI\n").Replace(baseLock)},
		{"requirement order", "r.txt", `tomli==2.0.1 ; python_version < "3.12" --hash=sha256:` + h(5) + `
pillow-heif==0.20.0 --hash=sha256:` + h(4) + `
pillow==11.0.0 --hash=sha256:` + h(3) + `
numpy==2.1.3 --hash=sha256:` + h(2) + ` --hash=sha256:` + h(1) + "\n"},
		{"hash order and hash spelling", "r.txt", strings.Replace(strings.Replace(baseLock,
			"--hash=sha256:"+h(1), "--hash sha256:"+strings.ToUpper(h(2)), 1),
			"--hash=sha256:"+h(2), "--hash=SHA256:"+h(1)+" --hash=sha256:"+h(1), 1)},
		{"name spelling", "r.txt", strings.NewReplacer("numpy==", "NumPy==", "pillow==", "Pillow==", "pillow-heif==", "Pillow_HEIF==", "tomli==", "TOMLI==").Replace(baseLock)},
		{"extras", "r.txt", strings.Replace(baseLock, "pillow==11.0.0", "pillow[xmp]==11.0.0", 1)},
		{"continuation style", "r.txt", strings.NewReplacer(" \\\n    ", "\\\n\t\t", "\n", "\r\n").Replace(baseLock)},
		{"one line each", "r.txt", strings.ReplaceAll(baseLock, " \\\n    ", " ")},
		{"pin spelling", "r.txt", strings.NewReplacer("numpy==2.1.3", "numpy == 2.1.3", "pillow==11.0.0", "pillow (==11.0.0)").Replace(baseLock)},
		{"marker spelling", "r.txt", strings.Replace(baseLock, `python_version < "3.12"`, `(python_version<'3.12')`, 1)},
		{"another marker with the same runtimes", "r.txt", strings.Replace(baseLock, `python_version < "3.12"`, `python_full_version < "3.12" and sys_platform == "linux"`, 1)},
		{"a marker true on every runtime", "r.txt", strings.Replace(baseLock, "numpy==2.1.3", `numpy==2.1.3 ; python_version >= "3.9" and platform_machine == "x86_64"`, 1)},
		{"options that change nothing", "r.txt", "--require-hashes\n--only-binary :all:\n" + baseLock},
		{"a package for another platform", "r.txt", baseLock + `pywin32==306 ; sys_platform == "win32" --hash=sha256:` + h(9) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustParse(t, tt.file, tt.text)
			if k := Key(l, tg, Options{}); k != base {
				t.Errorf("key changed:\n%s\nbase:\n%s", Canonical(l, tg, Options{}), Canonical(mustParse(t, "requirements.txt", baseLock), tg, Options{}))
			}
		})
	}

	// The target's spelling does not matter either.
	l := mustParse(t, "requirements.txt", baseLock)
	for _, other := range []target.Target{
		mustTarget(t, "x86_64", "python3.12", "python3.11", "python3.12"),
		{Runtimes: []target.Runtime{{Minor: 12}, {Minor: 11}, {Minor: 11}}, Arch: target.X86_64},
	} {
		if Key(l, other, Options{}) != base {
			t.Errorf("target %v gives another key than %v", other.Runtimes, tg)
		}
	}
}

func TestKeySensitive(t *testing.T) {
	tg := mustTarget(t, "x86_64", "python3.11", "python3.12")
	baseL := mustParse(t, "requirements.txt", baseLock)
	base := Key(baseL, tg, Options{})
	tests := []struct {
		name string
		text string
		tg   target.Target
		opts Options
	}{
		{"a version", strings.Replace(baseLock, "numpy==2.1.3", "numpy==2.1.2", 1), tg, Options{}},
		{"a version of a package limited by its marker", strings.Replace(baseLock, "tomli==2.0.1", "tomli==2.0.2", 1), tg, Options{}},
		{"a hash added", strings.Replace(baseLock, "pillow==11.0.0 \\", "pillow==11.0.0 --hash=sha256:"+h(6)+" \\", 1), tg, Options{}},
		{"a hash removed", strings.Replace(baseLock, "--hash=sha256:"+h(1)+" \\\n    ", "", 1), tg, Options{}},
		{"a hash changed", strings.Replace(baseLock, h(3), h(7), 1), tg, Options{}},
		{"a hash moved to another package", strings.NewReplacer(h(3), h(4), h(4), h(3)).Replace(baseLock), tg, Options{}},
		{"a package added", baseLock + "six==1.17.0 --hash=sha256:" + h(8) + "\n", tg, Options{}},
		{"a package removed", strings.Replace(baseLock, "pillow==11.0.0 \\\n    --hash=sha256:"+h(3)+"\n", "", 1), tg, Options{}},
		{"a package renamed", strings.Replace(baseLock, "pillow-heif==", "pillow-avif==", 1), tg, Options{}},
		{"a marker that limits a package", strings.Replace(baseLock, "pillow==11.0.0", `pillow==11.0.0 ; python_version >= "3.12"`, 1), tg, Options{}},
		{"a marker that moves a package to the other runtime", strings.Replace(baseLock, `python_version < "3.12"`, `python_version >= "3.12"`, 1), tg, Options{}},
		{"a marker that now applies everywhere", strings.Replace(baseLock, `python_version < "3.12"`, `python_version < "3.13"`, 1), tg, Options{}},
		{"a marker that leaves a package out", strings.Replace(baseLock, "numpy==2.1.3", `numpy==2.1.3 ; sys_platform == "darwin"`, 1), tg, Options{}},
		{"another runtime set", baseLock, mustTarget(t, "x86_64", "python3.12"), Options{}},
		{"another runtime added", baseLock, mustTarget(t, "x86_64", "python3.11", "python3.12", "python3.13"), Options{}},
		{"another architecture", baseLock, mustTarget(t, "arm64", "python3.11", "python3.12"), Options{}},
		{"no bytecode", baseLock, tg, Options{NoBytecode: true}},
	}
	seen := map[string]string{base: "base"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustParse(t, "requirements.txt", tt.text)
			k := Key(l, tt.tg, tt.opts)
			if k == base {
				t.Errorf("key unchanged:\n%s", Canonical(l, tt.tg, tt.opts))
			}
			if prev, dup := seen[k]; dup {
				t.Errorf("same key as %q", prev)
			}
			seen[k] = tt.name
		})
	}
}

func TestKeyFile(t *testing.T) {
	tg := mustTarget(t, "x86_64", "python3.11", "python3.12")
	path := "testdata/image-processing-manylinux2014.txt"
	k, err := KeyFile(path, tg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if k != Key(l, tg, Options{}) || len(k) != 64 || strings.ToLower(k) != k {
		t.Errorf("KeyFile = %q, Key = %q", k, Key(l, tg, Options{}))
	}
	if _, err := hex.DecodeString(k); err != nil {
		t.Errorf("key %q is not hex: %v", k, err)
	}
}
