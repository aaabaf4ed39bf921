package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
)

// applied lists what l installs for t as "name==version", with the
// runtimes in brackets when a marker limits the package to some of them.
func applied(l *Lock, t target.Target) []string {
	var out []string
	for _, a := range l.For(t) {
		s := a.Name + "==" + a.Version
		if len(a.Runtimes) < len(t.Runtimes) {
			var rs []string
			for _, r := range a.Runtimes {
				rs = append(rs, r.String())
			}
			s += " [" + strings.Join(rs, ",") + "]"
		}
		out = append(out, s)
	}
	return out
}

// The shapes the tools write: uv export (inline tables, one wheels array
// per package listing every platform's wheel, an sdist beside them, a
// package twice with exclusive markers, a macOS-only package whose wheels
// have no hashes), pip lock (arrays of tables, one wheel per package) and
// PDM (extras and dependency groups as markers). Each installs, per
// target and selection, what PEP 751's installation steps say.
func TestPylockShapes(t *testing.T) {
	both := mustTarget(t, "x86_64", "python3.11", "python3.12")
	py312 := mustTarget(t, "x86_64", "python3.12")
	tests := []struct {
		file string
		sel  Selection
		tg   target.Target
		want []string
	}{
		{"pylock.uv.toml", Selection{}, both, []string{
			"markupsafe==3.0.2", "numpy==1.26.4 [python3.11]", "numpy==2.1.3 [python3.12]", "typing-extensions==4.12.2",
		}},
		{"pylock.uv.toml", Selection{}, mustTarget(t, "arm64", "python3.11"), []string{
			"markupsafe==3.0.2", "numpy==1.26.4", "typing-extensions==4.12.2",
		}},
		{"pylock.pip.toml", Selection{}, py312, []string{
			"certifi==2025.1.31", "charset-normalizer==3.4.1", "idna==3.10", "requests==2.32.3", "urllib3==2.3.0",
		}},
		// PEP 751: no extras and the default-groups unless asked.
		{"pylock.pdm.toml", Selection{}, py312, []string{"iniconfig==2.1.0"}},
		{"pylock.pdm.toml", Selection{Extras: []string{"async"}}, py312, []string{
			"anyio==4.9.0", "idna==3.10", "iniconfig==2.1.0", "sniffio==1.3.1",
		}},
		{"pylock.pdm.toml", Selection{Groups: []string{"test"}}, py312, []string{"iniconfig==2.1.0", "pygments==2.19.2"}},
		{"pylock.pdm.toml", Selection{Groups: []string{"Test"}, NoDefaultGroups: true}, py312, []string{"pygments==2.19.2"}},
		{"pylock.pdm.toml", Selection{Extras: []string{"dev", "ASYNC"}, Groups: []string{"test"}}, py312, []string{
			"anyio==4.9.0", "blinker==1.9.0", "idna==3.10", "iniconfig==2.1.0", "pygments==2.19.2", "sniffio==1.3.1",
		}},
		{"pylock.pdm.toml", Selection{NoDefaultGroups: true}, py312, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %s", tt.file, tt.sel, tt.tg), func(t *testing.T) {
			l, err := ReadFileSelected(filepath.Join("testdata", tt.file), tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Check(tt.tg); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := applied(l, tt.tg); !slices.Equal(got, tt.want) {
				t.Errorf("installs %q, want %q", got, tt.want)
			}
			if len(l.Notes) != 0 {
				t.Errorf("notes for a well-formed lock: %q", l.Notes)
			}
		})
	}
}

// What a pylock.toml says of each wheel reaches the builder: the file name
// (the url's own spelling, where uv writes a normalized name beside it),
// where to get it, its size and digest, and the entry's line and key
// path. The requirement's hashes are its wheels' and its sdist's, as a
// requirements file lists them.
func TestPylockWheelFiles(t *testing.T) {
	l, err := ReadFile(filepath.Join("testdata", "pylock.uv.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ms := l.Requirements[0]
	if ms.Name != "markupsafe" || ms.Line != 7 || len(ms.Wheels) != 10 || len(ms.Hashes) != 11 || ms.Index != "http://127.0.0.1:8080/simple" {
		t.Fatalf("markupsafe = %+v", ms)
	}
	w := ms.Wheels[2]
	want := WheelFile{
		Filename: "MarkupSafe-3.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		URL:      "http://127.0.0.1:8080/files/MarkupSafe-3.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		Size:     1075,
		SHA256:   w.SHA256,
		Where:    "packages[0].wheels[2]",
		Line:     15,
	}
	if w != want || len(w.SHA256) != 64 || !slices.Contains(ms.Hashes, w.SHA256) {
		t.Errorf("wheel = %+v\nwant    %+v", w, want)
	}
	pip, err := ReadFile(filepath.Join("testdata", "pylock.pip.toml"))
	if err != nil {
		t.Fatal(err)
	}
	// pip writes [[packages.wheels]] and [packages.wheels.hashes] tables.
	req := pip.Requirements[3]
	if req.Name != "requests" || req.Line != 37 || len(req.Wheels) != 1 || req.Wheels[0].Line != 41 || req.Wheels[0].Where != "packages[3].wheels[0]" || req.Wheels[0].Size != 0 {
		t.Errorf("requests = %+v", req)
	}
}

// A path entry is relative to the lock's folder (PEP 751), and the last
// segment of a path names the wheel.
func TestPylockPathEntries(t *testing.T) {
	text := `lock-version = "1.0"
created-by = "hand"
[[packages]]
name = "alpha"
version = "1.0"
wheels = [{ path = "wheels/alpha-1.0-py3-none-any.whl", hashes = { sha256 = "` + h(1) + `" } }]
[[packages]]
name = "bravo"
version = "2.0"
wheels = [{ path = "/opt/wheels/bravo-2.0-py3-none-any.whl", hashes = { sha256 = "` + h(2) + `" } }]
`
	l := mustParse(t, filepath.Join("locks", "pylock.layer.toml"), text)
	a, b := l.Requirements[0].Wheels[0], l.Requirements[1].Wheels[0]
	if a.Filename != "alpha-1.0-py3-none-any.whl" || a.LocalPath(filepath.Join("locks", "pylock.layer.toml")) != filepath.Join("locks", "wheels", "alpha-1.0-py3-none-any.whl") {
		t.Errorf("relative path entry: %+v -> %s", a, a.LocalPath(filepath.Join("locks", "pylock.layer.toml")))
	}
	if b.LocalPath("locks/pylock.layer.toml") != filepath.FromSlash("/opt/wheels/bravo-2.0-py3-none-any.whl") {
		t.Errorf("absolute path entry: %s", b.LocalPath("locks/pylock.layer.toml"))
	}
}

// pylockHeader starts the small locks of the refusal tests.
const pylockHeader = "lock-version = \"1.0\"\ncreated-by = \"test\"\n"

// wheelEntry is a well-formed wheels array for name==version.
func wheelEntry(name, version string, n int) string {
	return fmt.Sprintf(`wheels = [{ url = "http://127.0.0.1:9/%s-%s-py3-none-any.whl", hashes = { sha256 = "%s" } }]`, name, version, h(n))
}

// Every refusal names the file, the 1-based line and the key path (with
// 0-based indexes). Malformed files are refused when parsed; a package
// that cannot be installed (no wheels, no sha256, a VCS source, ...) is
// refused by Check for a target it applies to, since a lock may hold
// packages for platforms Lambda is not.
func TestPylockRefuses(t *testing.T) {
	py312 := mustTarget(t, "x86_64", "python3.12")
	pkg := func(body string) string { return pylockHeader + "[[packages]]\n" + body }
	tests := []struct {
		name string
		text string
		sel  Selection
		want string // a prefix of the error
		has  string // and a part of it
	}{
		{"not TOML", pylockHeader + "[[packages]]\nname = \n", Selection{}, "pylock.toml:4: not valid TOML", ""},
		{"duplicate key", pylockHeader + "created-by = \"again\"\n", Selection{}, "pylock.toml:3: not valid TOML", "already defined"},
		{"no lock-version", "created-by = \"x\"\npackages = []\n", Selection{}, "pylock.toml:1: lock-version: missing", ""},
		{"newer major version", "lock-version = \"2.0\"\npackages = []\n", Selection{}, "pylock.toml:1: lock-version: \"2.0\"", "newer major format"},
		{"not a version", "lock-version = \"one\"\npackages = []\n", Selection{}, "pylock.toml:1: lock-version: \"one\" is not a version", ""},
		{"lock-version not a string", "lock-version = 1.0\npackages = []\n", Selection{}, "pylock.toml:1: lock-version: want a string, found a float", ""},
		{"no packages", pylockHeader, Selection{}, "pylock.toml:1: packages: missing", ""},
		{"packages not tables", pylockHeader + "packages = [\"numpy\"]\n", Selection{}, "pylock.toml:3: packages[0]: want a table, found a string", ""},
		{"no name", pkg("version = \"1.0\"\n"), Selection{}, "pylock.toml:3: packages[0]: no name", ""},
		{"bad name", pkg("name = \"-x\"\n"), Selection{}, "pylock.toml:4: packages[0].name: \"-x\" is not a valid package name", ""},
		{"bad version", pkg("name = \"a\"\nversion = \"1.0-foo-bar\"\n"), Selection{}, "pylock.toml:5: packages[0].version: \"1.0-foo-bar\" is not a valid version", ""},
		{"bad marker", pkg("name = \"a\"\nmarker = \"python_version <\"\n"), Selection{}, "pylock.toml:5: packages[0].marker: a: ", "expected a variable"},
		{"set compared as string", pkg("name = \"a\"\nmarker = \"extras == 'x'\"\n"), Selection{}, "pylock.toml:5: packages[0].marker", "extras is a set of names"},
		{"bad requires-python", pkg("name = \"a\"\nrequires-python = \"3.9\"\n"), Selection{}, "pylock.toml:5: packages[0].requires-python: a: \"3.9\": \"3.9\" is not a comparison", ""},
		{"arbitrary equality", "lock-version = \"1.0\"\nrequires-python = \"===3.12\"\npackages = []\n", Selection{}, "pylock.toml:2: requires-python", "arbitrary equality"},
		{"bad environments", "lock-version = \"1.0\"\nenvironments = [\"os_name ==\"]\npackages = []\n", Selection{}, "pylock.toml:2: environments[0]: marker", ""},
		{"vcs and wheels", pkg("name = \"a\"\nversion = \"1\"\nvcs = { type = \"git\", url = \"https://g/a\", commit-id = \"abc\" }\n" + wheelEntry("a", "1", 1) + "\n"), Selection{}, "pylock.toml:3: packages[0]: a has both vcs and wheels", ""},
		{"size not a number", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ url = \"http://h/a-1-py3-none-any.whl\", size = \"12\", hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].size: want an integer, found a string", ""},
		{"negative size", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ url = \"http://h/a-1-py3-none-any.whl\", size = -1, hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].size: -1", ""},
		{"malformed sha256", pkg("name = \"a\"\nversion = \"1\"\nwheels = [\n  { url = \"http://h/a-1-py3-none-any.whl\", hashes = { sha256 = \"abc\" } },\n]\n"), Selection{}, "pylock.toml:7: packages[0].wheels[0].hashes.sha256: \"abc\" is not a sha256 digest", ""},
		{"unknown extra", "lock-version = \"1.0\"\nextras = [\"async\"]\npackages = []\n", Selection{Extras: []string{"fast"}}, "pylock.toml:2: extras: \"fast\" is not an extra this lock declares (it declares async)", ""},
		{"unknown group", "lock-version = \"1.0\"\npackages = []\n", Selection{Groups: []string{"dev"}}, "pylock.toml:1: dependency-groups: \"dev\" is not a dependency group this lock declares (dependency-groups: none; default-groups: none)", ""},

		// Refused by Check, for a target the package applies to.
		{"only an sdist", pkg("name = \"a\"\nversion = \"1\"\nsdist = { url = \"http://h/a-1.tar.gz\", hashes = { sha256 = \"" + h(1) + "\" } }\n"), Selection{}, "pylock.toml:3: packages[0]: a has only a source distribution (sdist)", "installs wheels only"},
		{"no source at all", pkg("name = \"a\"\nversion = \"1\"\n"), Selection{}, "pylock.toml:3: packages[0]: a has no wheels and no source", ""},
		{"empty wheels", pkg("name = \"a\"\nversion = \"1\"\nwheels = []\n"), Selection{}, "pylock.toml:3: packages[0]: a has no wheels and no source", ""},
		{"vcs", pkg("name = \"a\"\n[packages.vcs]\ntype = \"git\"\nurl = \"https://g/a\"\ncommit-id = \"abc\"\n"), Selection{}, "pylock.toml:5: packages[0].vcs: a comes from a vcs source https://g/a", "installs wheels only"},
		{"directory", pkg("name = \"myapp\"\ndirectory = { path = \".\", editable = true }\n"), Selection{}, "pylock.toml:5: packages[0].directory: myapp comes from a directory source .", "--no-emit-project"},
		{"archive", pkg("name = \"a\"\narchive = { url = \"http://h/a-1-py3-none-any.whl\", hashes = { sha256 = \"" + h(1) + "\" } }\n"), Selection{}, "pylock.toml:5: packages[0].archive: a comes from an archive source http://h/a-1-py3-none-any.whl", ""},
		{"no version", pkg("name = \"a\"\n" + wheelEntry("a", "1", 1) + "\n"), Selection{}, "pylock.toml:3: packages[0]: a has no version", ""},
		{"no hashes", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ url = \"http://h/a-1-py3-none-any.whl\" }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0]: a 1: no hashes", ""},
		{"empty hashes", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ url = \"http://h/a-1-py3-none-any.whl\", hashes = {} }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].hashes: a 1: no sha256 digest (it has none)", ""},
		{"sha512 only", pkg("name = \"a\"\nversion = \"1\"\n[[packages.wheels]]\nurl = \"http://h/a-1-py3-none-any.whl\"\n[packages.wheels.hashes]\nsha512 = \"ab\"\n"), Selection{}, "pylock.toml:8: packages[0].wheels[0].hashes: a 1: no sha256 digest (it has sha512)", ""},
		{"wheel of another package", pkg("name = \"a\"\nversion = \"1\"\n" + wheelEntry("b", "1", 1) + "\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].url: b-1-py3-none-any.whl is a wheel of b 1, not of a 1", ""},
		{"wheel of another version", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ name = \"a-2-py3-none-any.whl\", url = \"http://h/dl?id=3\", hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].name: a-2-py3-none-any.whl is a wheel of a 2, not of a 1", ""},
		{"url not a wheel, no name", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ url = \"http://h/dl?id=3\", hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].url: ", "give the file name in name"},
		{"name and url disagree", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ name = \"a-1-cp312-cp312-manylinux2014_x86_64.whl\", url = \"http://h/a-1-py3-none-any.whl\", hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0]: name a-1-cp312", "different wheels"},
		{"nowhere to get it", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ name = \"a-1-py3-none-any.whl\", hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0]: a-1-py3-none-any.whl: no url or path, and the package names no index", ""},
		{"ftp url", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ url = \"ftp://h/a-1-py3-none-any.whl\", hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].url: \"ftp://h/a-1-py3-none-any.whl\"", ""},
		{"relative file url", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ url = \"file:w/a-1-py3-none-any.whl\", hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].url", "use path"},
		{"url password not shown", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ url = \"gopher://u:hunter2@h/a-1-py3-none-any.whl\", hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].url: \"gopher://h/a-1-py3-none-any.whl\"", ""},
		{"url password not shown, no scheme", pkg("name = \"a\"\nversion = \"1\"\nwheels = [{ url = \"u:hunter2@h/a-1-py3-none-any.whl\", hashes = { sha256 = \"" + h(1) + "\" } }]\n"), Selection{}, "pylock.toml:6: packages[0].wheels[0].url: \"xxxxx@h/a-1-py3-none-any.whl\"", ""},
		{"vcs token not shown", pkg("name = \"a\"\n[packages.vcs]\ntype = \"git\"\nurl = \"https://ci:hunter2@g/a\"\ncommit-id = \"abc\"\n"), Selection{}, "pylock.toml:5: packages[0].vcs: a comes from a vcs source https://g/a", "installs wheels only"},
		{"one file two digests", pkg("name = \"a\"\nversion = \"1\"\nwheels = [\n  { url = \"http://h/a-1-py3-none-any.whl\", hashes = { sha256 = \"" + h(1) + "\" } },\n  { url = \"http://mirror/a-1-py3-none-any.whl\", hashes = { sha256 = \"" + h(2) + "\" } },\n]\n"), Selection{}, "pylock.toml:8: packages[0].wheels[1]: a-1-py3-none-any.whl is listed twice", ""},
		{"two entries apply", pkg("name = \"a\"\nversion = \"1\"\n" + wheelEntry("a", "1", 1) + "\n[[packages]]\nname = \"A\"\nversion = \"2\"\nmarker = \"python_version >= '3.12'\"\n" + wheelEntry("a", "2", 2) + "\n"), Selection{}, "pylock.toml:7: packages[1]: A 2 here and a 1 in packages[0] (line 3) both apply on python3.12/x86_64", ""},
		{"lock requires-python", "lock-version = \"1.0\"\nrequires-python = \">=3.13\"\npackages = []\n", Selection{}, "pylock.toml:2: requires-python: \">=3.13\" excludes python3.12", ""},
		{"package requires-python", pkg("name = \"a\"\nversion = \"1\"\nrequires-python = \"<3.12\"\n" + wheelEntry("a", "1", 1) + "\n"), Selection{}, "pylock.toml:3: packages[0].requires-python: a needs Python <3.12, which excludes python3.12", ""},
		{"environments", "lock-version = \"1.0\"\nenvironments = [\"sys_platform == 'darwin'\", \"platform_machine == 'aarch64'\"]\npackages = []\n", Selection{}, "pylock.toml:2: environments: none of \"sys_platform == 'darwin'\", \"platform_machine == 'aarch64'\" holds on python3.12/x86_64", ""},
		{"group selects a bad package", "lock-version = \"1.0\"\ndependency-groups = [\"dev\"]\n[[packages]]\nname = \"a\"\nversion = \"1\"\nmarker = \"'dev' in dependency_groups\"\nsdist = { url = \"http://h/a-1.tar.gz\", hashes = { sha256 = \"" + h(1) + "\" } }\n", Selection{Groups: []string{"dev"}}, "pylock.toml:3: packages[0]: a has only a source distribution", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseSelected("pylock.toml", []byte(tt.text), tt.sel)
			if err == nil {
				err = l.Check(py312)
			}
			var e *Error
			switch {
			case err == nil:
				t.Fatalf("accepted, want %q", tt.want)
			case !errors.As(err, &e) || e.File != "pylock.toml" || e.Line < 1:
				t.Fatalf("error %v (%T) does not name the file and line", err, err)
			case !strings.HasPrefix(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.has):
				t.Fatalf("error\n  %v\nwant it to start with\n  %s\nand hold %q", err, tt.want, tt.has)
			case strings.Contains(err.Error(), "hunter2"):
				t.Fatalf("error shows a password: %v", err)
			}
		})
	}
}

// A package that cannot be installed is refused only where it applies: a
// lock made for Linux and macOS parses, and builds for Lambda, though its
// macOS wheels have no hashes; the same entry with no marker is refused.
func TestPylockProblemsOnlyWhereTheyApply(t *testing.T) {
	darwin := pylockHeader + "[[packages]]\nname = \"torch\"\nversion = \"2.6.0\"\nmarker = \"sys_platform == 'darwin'\"\nwheels = [{ url = \"http://h/torch-2.6.0-cp312-none-macosx_11_0_arm64.whl\", hashes = {} }]\n" +
		"[[packages]]\nname = \"a\"\nversion = \"1\"\n" + wheelEntry("a", "1", 1) + "\n"
	tg := mustTarget(t, "arm64", "python3.12")
	l := mustParse(t, "pylock.toml", darwin)
	if err := l.Check(tg); err != nil || !slices.Equal(applied(l, tg), []string{"a==1"}) {
		t.Fatalf("Check = %v, installs %q", err, applied(l, tg))
	}
	everywhere := strings.Replace(darwin, "marker = \"sys_platform == 'darwin'\"\n", "", 1)
	if err := mustParse(t, "pylock.toml", everywhere).Check(tg); err == nil || !strings.Contains(err.Error(), "packages[0].wheels[0].hashes: torch 2.6.0: no sha256") {
		t.Fatalf("Check = %v, want the missing sha256 of torch", err)
	}
}

// A lock-version of a newer minor release is read, with a note, as are
// keys this code does not know (PEP 751: warn, don't fail).
func TestPylockNewerMinorVersion(t *testing.T) {
	l := mustParse(t, "pylock.toml", "lock-version = \"1.1\"\ncreated-by = \"future\"\nsigned-by = \"x\"\n[[packages]]\nname = \"a\"\nversion = \"1\"\nprovenance = \"y\"\n"+wheelEntry("a", "1", 1)+"\n")
	want := []string{
		`pylock.toml:1: lock-version: "1.1" is newer than 1.0, which this lambdapack knows; it reads the lock as 1.0 and notes the keys it does not know (PEP 751)`,
		"pylock.toml:3: signed-by: not a key of pylock.toml 1.0 (PEP 751); ignored",
		"pylock.toml:7: packages[0].provenance: not a key of pylock.toml 1.0 (PEP 751); ignored",
	}
	if !slices.Equal(l.Notes, want) || len(l.Requirements) != 1 {
		t.Errorf("notes %q\nwant  %q", l.Notes, want)
	}
}

// The format is chosen by the file's name: the names PEP 751 allows are
// pylock.toml and pylock.NAME.toml; another .toml name is refused rather
// than read as requirements; a selection is refused for requirements.
func TestLockFormatByName(t *testing.T) {
	pylock := pylockHeader + "[[packages]]\nname = \"a\"\nversion = \"1\"\n" + wheelEntry("a", "1", 1) + "\n"
	for _, name := range []string{"pylock.toml", "locks/pylock.layer.toml", "pylock.image-processing.toml", `C:\locks\pylock.prod.toml`} {
		if !IsPylockName(name) {
			t.Errorf("IsPylockName(%s) = false", name)
		}
		if l, err := Parse(name, []byte(pylock)); err != nil || len(l.Requirements) != 1 {
			t.Errorf("Parse(%s) = %v", name, err)
		}
	}
	for _, name := range []string{"lock.toml", "locks/uv.toml", "Pylock.toml", "pylock.a.b.toml", "pylock..toml", "PYLOCK.TOML"} {
		_, err := Parse(name, []byte(pylock))
		if err == nil || !strings.Contains(err.Error(), "must be named pylock.toml or pylock.NAME.toml") || IsPylockName(name) {
			t.Errorf("Parse(%s) = %v, want the names PEP 751 allows", name, err)
		}
	}
	for _, name := range []string{"requirements.txt", "locks/pylock.toml.txt", "pylock"} {
		if IsPylockName(name) {
			t.Errorf("IsPylockName(%s) = true", name)
		}
	}
	_, err := ParseSelected("r.txt", []byte("a==1 --hash=sha256:"+h(1)+"\n"), Selection{Extras: []string{"x"}})
	if err == nil || !strings.Contains(err.Error(), "--extra x: extras and dependency groups are chosen in a pylock.toml only") {
		t.Errorf("a selection for a requirements file: %v", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "pylock.toml")); err == nil || !strings.Contains(err.Error(), "read lock") {
		t.Errorf("a missing file: %v", err)
	}
}

// requirementsFor writes the requirements file that pins what a pylock.toml
// pins, with the same digests (its wheels' and its sdist's), as
// `uv export --format requirements-txt` would beside
// `uv export --format pylock.toml`.
func requirementsFor(l *Lock) string {
	var b strings.Builder
	for _, r := range l.Requirements {
		fmt.Fprintf(&b, "%s==%s", r.Spelled, r.Version)
		if r.Marker != nil {
			fmt.Fprintf(&b, " ; %s", r.Marker)
		}
		for _, x := range r.Hashes {
			fmt.Fprintf(&b, " \\\n    --hash=sha256:%s", x)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// A pylock.toml and a requirements file that pin the same versions with
// the same digests give the same layer key, so switching formats rebuilds
// nothing; how the pylock is written (URLs, order, sizes, comments) does
// not change it, and a digest does.
func TestPylockKeyEqualsRequirementsKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "pylock.pip.toml"))
	if err != nil {
		t.Fatal(err)
	}
	pl := mustParse(t, "pylock.toml", string(data))
	req := mustParse(t, "requirements.txt", requirementsFor(pl))
	pdm, err := ReadFileSelected(filepath.Join("testdata", "pylock.pdm.toml"), Selection{Extras: []string{"async"}})
	if err != nil {
		t.Fatal(err)
	}
	// The requirements file of the selected install: markers of extras and
	// groups do not exist there, so they are left out.
	var pdmText strings.Builder
	for _, a := range pdm.For(mustTarget(t, "x86_64", "python3.12")) {
		fmt.Fprintf(&pdmText, "%s==%s --hash=sha256:%s\n", a.Name, a.Version, strings.Join(a.Hashes, " --hash=sha256:"))
	}
	pdmReq := mustParse(t, "r.txt", pdmText.String())
	for _, tg := range []target.Target{
		mustTarget(t, "x86_64", "python3.12"),
		mustTarget(t, "arm64", "python3.11", "python3.12", "python3.13"),
	} {
		if Key(pl, tg, Options{}) != Key(req, tg, Options{}) {
			t.Errorf("%s: pylock key %s, requirements key %s\n%s---\n%s", tg, Key(pl, tg, Options{}), Key(req, tg, Options{}), Canonical(pl, tg, Options{}), Canonical(req, tg, Options{}))
		}
	}
	py312 := mustTarget(t, "x86_64", "python3.12")
	if Key(pdm, py312, Options{}) != Key(pdmReq, py312, Options{}) {
		t.Errorf("pdm with --extra async: %s\n---\n%s", Canonical(pdm, py312, Options{}), Canonical(pdmReq, py312, Options{}))
	}

	// uv's shape, with a package listed twice under exclusive markers.
	uv, err := ReadFile(filepath.Join("testdata", "pylock.uv.toml"))
	if err != nil {
		t.Fatal(err)
	}
	both := mustTarget(t, "x86_64", "python3.11", "python3.12")
	want := Key(uv, both, Options{})
	text, _ := os.ReadFile(filepath.Join("testdata", "pylock.uv.toml"))
	for name, change := range map[string]func(string) string{
		"other URLs": func(s string) string {
			return strings.ReplaceAll(s, "http://127.0.0.1:8080/files/", "https://mirror.internal/pypi/")
		},
		"no sizes": func(s string) string { return strings.ReplaceAll(s, "size = ", "x-size = ") },
		"comments": func(s string) string {
			return "# regenerated\n" + strings.ReplaceAll(s, "\n[[packages]]", "\n\n# next\n[[packages]]")
		},
		"packages moved": func(s string) string {
			first, rest, _ := strings.Cut(s, "\n[[packages]]")
			return first + "\n[[packages]]" + movedLast(rest)
		},
	} {
		l := mustParse(t, "pylock.toml", change(string(text)))
		if Key(l, both, Options{}) != want {
			t.Errorf("%s changed the key:\n%s", name, Canonical(l, both, Options{}))
		}
	}
	changed := mustParse(t, "pylock.toml", strings.Replace(string(text), uv.Requirements[0].Hashes[0], h(99), 1))
	if Key(changed, both, Options{}) == want {
		t.Error("a changed digest kept the key")
	}
}

// movedLast moves the first [[packages]] table of rest (rest starting
// just after its header) to the end.
func movedLast(rest string) string {
	first, others, _ := strings.Cut(rest, "\n[[packages]]")
	return others + "\n[[packages]]" + first
}

// extras and dependency_groups are sets of names, compared normalized,
// defined only in a pylock.toml.
func TestMarkerSets(t *testing.T) {
	sets := &markerSets{extras: map[string]bool{"fast-io": true}, groups: map[string]bool{"dev": true}}
	rt := target.Runtime{Minor: 12}
	tests := []struct {
		marker string
		want   bool
	}{
		{`"fast-io" in extras`, true},
		{`"Fast_IO" in extras`, true},
		{`"dev" in extras`, false},
		{`'dev' in dependency_groups`, true},
		{`"dev" not in dependency_groups`, false},
		{`"docs" not in dependency_groups and python_version >= "3.12"`, true},
		{`"dev" in dependency_groups and sys_platform == "win32"`, false},
	}
	for _, tt := range tests {
		m, err := parseMarker(tt.marker, true)
		if err != nil {
			t.Fatalf("%s: %v", tt.marker, err)
		}
		if got, err := m.withSets(sets).Eval(rt, target.X86_64); got != tt.want || err != nil {
			t.Errorf("%s = %v, %v; want %v", tt.marker, got, err, tt.want)
		}
		if on, _ := m.Eval(rt, target.X86_64); on && strings.Contains(tt.marker, " in ") && !strings.Contains(tt.marker, "not in") {
			t.Errorf("%s holds with no extras or groups selected", tt.marker)
		}
	}
	for _, bad := range []struct{ marker, want string }{
		{`extras == "x"`, "extras is a set of names"},
		{`"x" == dependency_groups`, "dependency_groups is a set of names"},
		{`extras in "x"`, "extras is a set of names"},
		{`"-x" in extras`, "is not a valid name"},
		{`dependency_groups in dependency_groups`, "is a set of names"},
	} {
		if _, err := parseMarker(bad.marker, true); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.marker, err, bad.want)
		}
	}
	if _, err := ParseMarker(`"dev" in dependency_groups`); err == nil || !strings.Contains(err.Error(), "only in a pylock.toml") {
		t.Errorf("ParseMarker accepted dependency_groups outside a pylock.toml: %v", err)
	}
}

// Requires-Python is evaluated as python_full_version markers: exact
// between minor versions, and open (refused) where the runtime's patch
// release would decide it.
func TestRequiresPython(t *testing.T) {
	tests := []struct {
		spec string
		rt   int
		want bool
		open bool
	}{
		{">=3.9", 12, true, false},
		{">=3.9, <3.12", 12, false, false},
		{">=3.9,<4", 13, true, false},
		{"==3.12.*", 12, true, false},
		{"==3.12.*", 13, false, false},
		{"!=3.11.*", 11, false, false},
		{"~=3.11", 13, true, false},
		{">=3.8.1", 9, true, false},
		{">=3.12.1", 12, false, true},
		{"<3.12.5", 12, false, true},
		{">3.11", 11, false, true}, // 3.11.0 is not after 3.11, 3.11.1 is
		{">=3.9, !=3.9.7", 9, false, true},
		{">=3.9, !=3.9.7", 10, true, false},
		{">=3.12.[X]", 12, false, false},
	}
	for _, tt := range tests {
		m, err := requiresPythonMarker(tt.spec)
		if err != nil {
			if tt.spec == ">=3.12.[X]" {
				continue // what uv's test snapshots print; not a version
			}
			t.Fatalf("%s: %v", tt.spec, err)
		}
		if got, err := m.Eval(target.Runtime{Minor: tt.rt}, target.X86_64); got != tt.want || (err != nil) != tt.open {
			t.Errorf("%s on 3.%d = %v, %v; want %v (open: %v)", tt.spec, tt.rt, got, err, tt.want, tt.open)
		}
	}
	for _, bad := range []string{"", " , ", "3.12", "===3.12", ">=", ">= '3.9'", "~=3"} {
		if _, err := requiresPythonMarker(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Lines are found for keys written every way TOML allows: array-of-tables
// headers (also nested, as pip writes them), sub-tables, inline tables and
// arrays (as uv writes them), and dotted keys.
func TestTomlLines(t *testing.T) {
	doc := `lock-version = "1.0"
[[packages]]
name = "a"
wheels = [
  { url = "u", hashes = { sha256 = "x" } },
  { url = "v",
    hashes.sha256 = "y" },
]
[packages.tool.pdm]
x = 1
[[packages]]
name = "b"
[[packages.wheels]]
name = "w"
[packages.wheels.hashes]
sha256 = "z"
[[packages.wheels]]
name = "w2"
`
	lines := indexLines([]byte(doc))
	for path, want := range map[string]int{
		"lock-version":                        1,
		"packages":                            2,
		"packages[0]":                         2,
		"packages[0].wheels":                  4,
		"packages[0].wheels[0]":               5,
		"packages[0].wheels[0].hashes":        5,
		"packages[0].wheels[1]":               6,
		"packages[0].wheels[1].hashes":        7,
		"packages[0].wheels[1].hashes.sha256": 7,
		"packages[0].tool.pdm.x":              10,
		"packages[1]":                         11,
		"packages[1].name":                    12,
		"packages[1].wheels[0]":               13,
		"packages[1].wheels[0].hashes":        15,
		"packages[1].wheels[0].hashes.sha256": 16,
		"packages[1].wheels[1].name":          18,
		"packages[1].wheels[1].hashes":        17, // not written: its entry's line
		"nothing.here":                        1,
	} {
		if got := lines.line(path); got != want {
			t.Errorf("line(%s) = %d, want %d", path, got, want)
		}
	}
}

// FuzzParsePylock checks that no input makes the pylock.toml reader, Check
// or the key panic, that every refusal names a line of the file, and that
// what it accepts keeps the promises of Lock and Requirement.
func FuzzParsePylock(f *testing.F) {
	for _, name := range []string{"pylock.uv.toml", "pylock.pip.toml", "pylock.pdm.toml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 1500)])
	}
	f.Add([]byte(pylockHeader + "[[packages]]\nname = \"a\"\nversion = \"1\"\nmarker = \"'x' in extras or 'dev' in dependency_groups\"\nrequires-python = \">=3.9,!=3.10.*\"\n" + wheelEntry("a", "1", 1) + "\n"))
	f.Add([]byte("lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\n[[packages.wheels]]\npath = \"../w/a-1-py3-none-any.whl\"\n[packages.wheels.hashes]\nsha256 = \"" + h(1) + "\"\n"))
	targets := []target.Target{
		{Runtimes: []target.Runtime{{Minor: 11}, {Minor: 12}}, Arch: target.X86_64},
		{Runtimes: []target.Runtime{{Minor: 13}}, Arch: target.ARM64},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sel := range []Selection{{}, {Extras: []string{"x"}, Groups: []string{"dev"}}} {
			l, err := ParseSelected("pylock.toml", data, sel)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %v (%T) is not an *Error", err, err)
				}
				if lines := strings.Count(string(data), "\n") + 1; e.File != "pylock.toml" || e.Line < 1 || e.Line > lines {
					t.Fatalf("error %q names %s:%d, the file has %d lines", err, e.File, e.Line, lines)
				}
				continue
			}
			for i, r := range l.Requirements {
				if i > 0 && l.Requirements[i-1].Name > r.Name {
					t.Fatalf("requirements not sorted: %q then %q", l.Requirements[i-1].Name, r.Name)
				}
				if r.Name != NormalizeName(r.Spelled) || r.Version == "" || r.Line < 1 || len(r.Wheels) == 0 || len(r.Hashes) == 0 {
					t.Fatalf("bad requirement %+v", r)
				}
				for _, w := range r.Wheels {
					if len(w.SHA256) != 64 || !slices.Contains(r.Hashes, w.SHA256) || w.Filename == "" || w.Line < 1 {
						t.Fatalf("bad wheel %+v of %s", w, r.Name)
					}
				}
			}
			for _, tg := range targets {
				if err := l.Check(tg); err != nil {
					var e *Error
					if !errors.As(err, &e) || e.Line < 1 {
						t.Fatalf("Check error %v names no line", err)
					}
					continue
				}
				_ = Key(l, tg, Options{})
			}
		}
	})
}

// BenchmarkParsePylock reads a uv-shaped lock the size of a large project's
// (200 packages of 30 wheels each, ~1.5 MB): what `pulumi preview` spends
// reading a pylock layerLock, with no network.
func BenchmarkParsePylock(b *testing.B) {
	var s strings.Builder
	s.WriteString(pylockHeader)
	for p := range 200 {
		fmt.Fprintf(&s, "\n[[packages]]\nname = \"pkg%d\"\nversion = \"1.%d\"\nindex = \"https://pypi.org/simple\"\nwheels = [\n", p, p)
		for w := range 30 {
			fmt.Fprintf(&s, "    { url = \"https://files.example/pkg%d-1.%d-cp3%d-cp3%d-manylinux_2_17_x86_64.manylinux2014_x86_64.whl\", upload-time = 2024-10-18T15:21:13Z, size = 123456, hashes = { sha256 = \"%s\" } },\n", p, p, w, w, h(p*100+w))
		}
		s.WriteString("]\n")
	}
	data := []byte(s.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("pylock.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}
