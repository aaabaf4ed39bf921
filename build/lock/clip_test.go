package lock

import (
	"fmt"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
)

// A pylock.toml value megabytes long (a corrupted or hostile file: a name,
// a version, a marker, a URL, a path, a digest, a key) is echoed clipped,
// if at all, on every error path, those of parsing and those of Check; so
// is a lock file's own name.
func TestPylockLongInputIsClipped(t *testing.T) {
	huge := strings.Repeat("a", 5<<20)
	sum := fmt.Sprintf("%064x", 1)
	head := "lock-version = \"1.0\"\ncreated-by = \"test\"\n"
	pkg := func(body string) string { return head + "[[packages]]\n" + body }
	wheel := func(fields string) string { return "wheels = [{ " + fields + " }]\n" }
	py312, err := target.New([]string{"python3.12"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string // the lock's name
		text string
		sel  Selection
		want string
	}{
		{"lock-version", "pylock.toml", "lock-version = \"" + huge + "\"\npackages = []\n", Selection{}, "is not a version"},
		{"environments", "pylock.toml", "lock-version = \"1.0\"\nenvironments = [\"" + huge + "\"]\npackages = []\n", Selection{}, "environments[0]: marker"},
		{"environments that do not hold", "pylock.toml", "lock-version = \"1.0\"\nenvironments = [\"os_name == '" + huge + "'\"]\npackages = []\n", Selection{}, "none of"},
		{"requires-python", "pylock.toml", "lock-version = \"1.0\"\nrequires-python = \">=" + huge + " 1\"\npackages = []\n", Selection{}, "requires-python"},
		{"requires-python that excludes", "pylock.toml", "lock-version = \"1.0\"\nrequires-python = \">=3.13," + strings.Repeat("!=3.1,", 1<<14) + "\"\npackages = []\n", Selection{}, "excludes python3.12"},
		{"declared extra", "pylock.toml", "lock-version = \"1.0\"\nextras = [\"" + huge + "!\"]\npackages = []\n", Selection{}, "is not a valid name"},
		{"selected extra", "pylock.toml", "lock-version = \"1.0\"\nextras = [\"" + huge + "\"]\npackages = []\n", Selection{Extras: []string{huge + "b"}}, "is not an extra this lock declares"},
		{"selected group", "pylock.toml", "lock-version = \"1.0\"\ndependency-groups = [\"" + huge + "\"]\npackages = []\n", Selection{Groups: []string{huge + "b"}}, "is not a dependency group"},
		{"package name", "pylock.toml", pkg("name = \"" + huge + "!\"\n"), Selection{}, "is not a valid package name"},
		{"package version", "pylock.toml", pkg("name = \"a\"\nversion = \"" + huge + "!\"\n"), Selection{}, "is not a valid version"},
		{"marker", "pylock.toml", pkg("name = \"" + huge + "\"\nmarker = \"python_version < '" + huge + "\"\n"), Selection{}, "marker"},
		{"package requires-python", "pylock.toml", pkg("name = \"" + huge + "\"\nrequires-python = \"" + huge + "\"\n"), Selection{}, "is not a comparison"},
		{"package requires-python that excludes", "pylock.toml", pkg("name = \"" + huge + "\"\nversion = \"1\"\nrequires-python = \">=3.13," + strings.Repeat("!=3.1,", 1<<14) + "\"\n" + wheel("url = \"http://h/a-1-py3-none-any.whl\", hashes = { sha256 = \""+sum+"\" }")), Selection{}, "which excludes python3.12"},
		{"a source and wheels", "pylock.toml", pkg("name = \"" + huge + "\"\nversion = \"1\"\nvcs = { type = \"git\", url = \"https://g/a\", commit-id = \"abc\" }\n" + wheel("url = \"http://h/a-1-py3-none-any.whl\", hashes = { sha256 = \""+sum+"\" }")), Selection{}, "has both vcs and wheels"},
		{"vcs source", "pylock.toml", pkg("name = \"" + huge + "\"\n[packages.vcs]\ntype = \"git\"\nurl = \"https://g/" + huge + "\"\ncommit-id = \"abc\"\n"), Selection{}, "comes from a vcs source"},
		{"only an sdist", "pylock.toml", pkg("name = \"" + huge + "\"\nversion = \"1\"\nsdist = { url = \"http://h/a-1.tar.gz\", hashes = { sha256 = \"" + sum + "\" } }\n"), Selection{}, "has only a source distribution"},
		{"no version", "pylock.toml", pkg("name = \"" + huge + "\"\n" + wheel("url = \"http://h/a-1-py3-none-any.whl\", hashes = { sha256 = \""+sum+"\" }")), Selection{}, "has no version"},
		{"digest", "pylock.toml", pkg("name = \"a\"\nversion = \"1\"\n" + wheel("url = \"http://h/a-1-py3-none-any.whl\", hashes = { sha256 = \""+huge+"\" }")), Selection{}, "is not a sha256 digest"},
		{"no sha256", "pylock.toml", pkg("name = \"a\"\nversion = \"" + strings.Repeat("1.", 1<<14) + "1\"\n" + wheel("url = \"http://h/a-1-py3-none-any.whl\", hashes = { md5 = \"x\" }")), Selection{}, "no sha256 digest"},
		{"no hashes", "pylock.toml", pkg("name = \"" + huge + "\"\nversion = \"1\"\n" + wheel("url = \"http://h/a-1-py3-none-any.whl\"")), Selection{}, "no hashes"},
		{"url scheme", "pylock.toml", pkg("name = \"a\"\nversion = \"1\"\n" + wheel("url = \"ftp://h/"+huge+"\", hashes = { sha256 = \""+sum+"\" }")), Selection{}, "want an http:// or https:// URL"},
		{"wheel of another package", "pylock.toml", pkg("name = \"a\"\nversion = \"1\"\n" + wheel("url = \"http://h/"+huge+"-1-py3-none-any.whl\", hashes = { sha256 = \""+sum+"\" }")), Selection{}, "is a wheel of"},
		{"wheel name", "pylock.toml", pkg("name = \"a\"\nversion = \"1\"\n" + wheel("name = \""+huge+"\", url = \"http://h/a-1-py3-none-any.whl\", hashes = { sha256 = \""+sum+"\" }")), Selection{}, "is not a wheel"},
		{"path", "pylock.toml", pkg("name = \"a\"\nversion = \"1\"\n" + wheel("path = \"./"+huge+"\", hashes = { sha256 = \""+sum+"\" }")), Selection{}, "give the file name in name"},
		{"not TOML", "pylock.toml", head + huge + " = = \n", Selection{}, "not valid TOML"},
		{"a key's value", "pylock.toml", "lock-version = \"1.0\"\ncreated-by = [" + strings.Repeat("1,", 1<<14) + "]\npackages = []\n", Selection{}, "want a string, found"},
		{"the lock's own name", strings.Repeat("d/", 1<<20) + "pylock.toml", "lock-version = \"1.0\"\n", Selection{}, "packages: missing"},
		{"a TOML lock's name", strings.Repeat("d", 1<<20) + ".toml", "", Selection{}, "a TOML lock must be named pylock.toml"},
		{"a requirements file's name", strings.Repeat("d/", 1<<20) + "requirements.txt", "numpy\n", Selection{}, "is not pinned"},
		{"selection for a requirements file", "requirements.txt", "", Selection{Extras: []string{huge}}, "extras and dependency groups are chosen in a pylock.toml only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseSelected(tt.file, []byte(tt.text), tt.sel)
			if err == nil {
				err = l.Check(py312)
			}
			msg := shortError(t, err, tt.want)
			if strings.Contains(msg, strings.Repeat("a", 201)) || strings.Contains(msg, strings.Repeat("d/", 101)) {
				t.Errorf("error %.300q holds input unclipped", msg)
			}
		})
	}

	// Keys a newer format might add are noted, clipped.
	l, err := Parse("pylock.toml", []byte("lock-version = \"1.0\"\n"+huge+" = 1\npackages = []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Notes) != 1 || len(l.Notes[0]) > 1000 || !strings.Contains(l.Notes[0], "not a key of pylock.toml 1.0") {
		t.Errorf("notes %.300q", l.Notes)
	}
}

// A NUL byte in a pylock.toml is named, with its line and column in
// characters, as in a requirements file.
func TestPylockNUL(t *testing.T) {
	text := "lock-version = \"1.0\"\n# café\ncreated-by = \"t\x00\"\npackages = []\n"
	_, err := Parse("pylock.toml", []byte(text))
	if want := "pylock.toml:3: NUL byte at line 3 column 16: a lock is text"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Parse = %v, want %q", err, want)
	}
}

// shortError returns the message of err, a refusal of a megabyte-long
// input, failing t unless it says want and stays short enough to read in
// a CI log.
func shortError(t *testing.T, err error, want string) string {
	t.Helper()
	if err == nil {
		t.Fatal("the lock was accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error %.300q does not say %q", msg, want)
	}
	if len(msg) > 2000 {
		t.Errorf("error is %d bytes: %.300q...", len(msg), msg)
	}
	return msg
}
