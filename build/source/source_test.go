package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// writeFiles creates each path (slash-separated, under root) with its
// content, mode 0644.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		writeFile(t, root, p, data, 0o644)
	}
}

func writeFile(t *testing.T, root, p, data string, mode fs.FileMode) {
	t.Helper()
	abs := filepath.Join(root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(abs, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(abs, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

func paths(tr *Tree) []string {
	var out []string
	for _, f := range tr.Files {
		out = append(out, f.Path)
	}
	return out
}

// appTree is a function's source folder with the litter a developer's
// checkout collects.
var appTree = map[string]string{
	"api.py":               "def handler(event, context):\n    return {}\n",
	"handlers/__init__.py": "",
	"handlers/photos.py":   "X = 1\n",
	"handlers/__pycache__/photos.cpython-311.pyc": "bytecode",
	"utils/img.py":                            "Y = 2\n",
	"utils/img.pyc":                           "bytecode",
	"utils/old.pyo":                           "bytecode",
	"utils/img_test.py":                       "def test(): pass\n",
	"utils/test_img.py":                       "def test(): pass\n",
	"README.md":                               "docs\n",
	"data/labels.json":                        "{}\n",
	"__pycache__/api.cpython-311.pyc":         "bytecode",
	".git/HEAD":                               "ref: refs/heads/main\n",
	".git/objects/ab/cdef":                    "blob",
	".venv/pyvenv.cfg":                        "home = /usr/bin\n",
	".venv/lib/python3.11/site-packages/x.py": "",
	"venv/lib/y.py":                           "",
	".env":                                    "STRIPE_KEY=sk_live_x\n",
	".env.production":                         "STRIPE_KEY=sk_live_y\n",
	".DS_Store":                               "mac",
	"handlers/Thumbs.db":                      "win",
	"desktop.ini":                             "win",
	"handlers/.photos.py.swp":                 "vim",
	"api.py~":                                 "emacs",
	".idea/workspace.xml":                     "<x/>",
	".vscode/settings.json":                   "{}",
	"tests/test_api.py":                       "def test(): pass\n",
	"tests/helpers.py":                        "Z = 3\n",
	"tests/__pycache__/helpers.cpython-311.pyc": "bytecode",
	"conftest.py":                      "",
	".pytest_cache/v/cache/lastfailed": "{}",
	".mypy_cache/3.11/api.meta.json":   "{}",
	".ruff_cache/CACHEDIR.TAG":         "x",
}

// The default excludes leave out bytecode, version control, virtualenvs,
// environment files, editor and OS litter, tests and tool caches, and
// nothing else.
func TestWalkDefaultExcludes(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, appTree)
	tr, err := Walk(root, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"README.md", "api.py", "data/labels.json", "handlers/__init__.py", "handlers/photos.py", "utils/img.py"}
	if got := paths(tr); !slices.Equal(got, want) {
		t.Errorf("shipped:\n got %v\nwant %v", got, want)
	}
	wantExcluded := []string{
		".DS_Store", ".env", ".env.production", ".git/", ".idea/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/",
		".venv/", ".vscode/", "__pycache__/", "api.py~", "conftest.py", "desktop.ini", "handlers/.photos.py.swp",
		"handlers/Thumbs.db", "handlers/__pycache__/", "tests/", "utils/img.pyc", "utils/img_test.py", "utils/old.pyo",
		"utils/test_img.py", "venv/",
	}
	if !slices.Equal(tr.Excluded, wantExcluded) {
		t.Errorf("excluded:\n got %v\nwant %v", tr.Excluded, wantExcluded)
	}
	var size int64
	for _, f := range tr.Files {
		sum := sha256.Sum256([]byte(appTree[f.Path]))
		if f.SHA256 != hex.EncodeToString(sum[:]) || f.Size != int64(len(appTree[f.Path])) || f.Mode != 0o644 {
			t.Errorf("%s: %+v does not describe its content", f.Path, f)
		}
		size += f.Size
	}
	if tr.Size() != size {
		t.Errorf("Size() = %d, want %d", tr.Size(), size)
	}
}

// Exclude and include patterns, gitignore-like, judged level by level.
func TestFilterPatterns(t *testing.T) {
	files := map[string]string{
		"api.py":                  "",
		"README.md":               "",
		"docs/README.md":          "",
		"docs/api.md":             "",
		"docs/img/logo.png":       "",
		"data":                    "a file named data",
		"pkg/data/x.json":         "",
		"pkg/deep/a/b/z.txt":      "",
		"pkg/z.txt":               "",
		"tests/helpers.py":        "",
		"tests/test_api.py":       "",
		"tests/__pycache__/h.pyc": "",
		".env.example":            "",
	}
	base := []string{"README.md", "api.py", "data", "docs/README.md", "docs/api.md", "docs/img/logo.png",
		"pkg/data/x.json", "pkg/deep/a/b/z.txt", "pkg/z.txt"}
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(base), func(p string) bool { return slices.Contains(drop, p) })
	}
	with := func(add ...string) []string {
		out := append(slices.Clone(base), add...)
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"defaults", Filter{}, base},
		{"unanchored name at any depth", Filter{Exclude: []string{"README.md"}}, without("README.md", "docs/README.md")},
		{"leading slash anchors", Filter{Exclude: []string{"/README.md"}}, without("README.md")},
		{"inner slash anchors", Filter{Exclude: []string{"docs/*.md"}}, without("docs/README.md", "docs/api.md")},
		{"star does not cross folders", Filter{Exclude: []string{"docs/*"}}, without("docs/README.md", "docs/api.md", "docs/img/logo.png")},
		{"folder excludes what is under it", Filter{Exclude: []string{"docs/"}}, without("docs/README.md", "docs/api.md", "docs/img/logo.png")},
		{"trailing slash matches folders only", Filter{Exclude: []string{"data/"}}, without("pkg/data/x.json")},
		{"no trailing slash matches both", Filter{Exclude: []string{"data"}}, without("data", "pkg/data/x.json")},
		{"double star in the middle", Filter{Exclude: []string{"pkg/**/z.txt"}}, without("pkg/deep/a/b/z.txt", "pkg/z.txt")},
		{"leading double star", Filter{Exclude: []string{"**/b/z.txt"}}, without("pkg/deep/a/b/z.txt")},
		{"trailing double star", Filter{Exclude: []string{"pkg/**"}}, without("pkg/data/x.json", "pkg/deep/a/b/z.txt", "pkg/z.txt")},
		{"class", Filter{Exclude: []string{"[A-Z]*.md"}}, without("README.md", "docs/README.md")},
		{"include beats exclude at one level", Filter{Exclude: []string{"*.md"}, Include: []string{"api.md"}}, without("README.md", "docs/README.md")},
		{"include a file under an excluded folder", Filter{Exclude: []string{"docs/"}, Include: []string{"docs/api.md"}}, without("docs/README.md", "docs/img/logo.png")},
		{"include a folder: deeper defaults still apply", Filter{Include: []string{"tests/"}}, with("tests/helpers.py")},
		{"include everything under a folder", Filter{Include: []string{"tests/**"}}, with("tests/__pycache__/h.pyc", "tests/helpers.py", "tests/test_api.py")},
		{"include the source under a folder", Filter{Include: []string{"tests/**/*.py"}}, with("tests/helpers.py", "tests/test_api.py")},
		{"include a default-excluded name", Filter{Include: []string{".env.example"}}, with(".env.example")},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, files)
			tr, err := Walk(root, c.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(tr); !slices.Equal(got, c.want) {
				t.Errorf("shipped:\n got %v\nwant %v", got, c.want)
			}
		})
	}
}

// A bad pattern is refused naming it and what is wrong.
func TestFilterRefusesBadPatterns(t *testing.T) {
	for _, c := range []struct {
		filter Filter
		want   string
	}{
		{Filter{Exclude: []string{""}}, `exclude pattern "": empty pattern`},
		{Filter{Exclude: []string{"!x"}}, "negation is not supported"},
		{Filter{Include: []string{`docs\x`}}, `include pattern "docs\\x": backslash`},
		{Filter{Exclude: []string{"a//b"}}, "empty folder name"},
		{Filter{Exclude: []string{"../x"}}, `".." element`},
		{Filter{Exclude: []string{"./x"}}, `"." element`},
		{Filter{Exclude: []string{"/"}}, "nothing but the source folder"},
		{Filter{Include: []string{"[a-"}}, `include pattern "[a-": bad pattern element`},
	} {
		err := c.filter.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error with %q", c.filter, err, c.want)
			continue
		}
		root := t.TempDir()
		writeFiles(t, root, map[string]string{"api.py": ""})
		if _, werr := Walk(root, c.filter); werr == nil || werr.Error() != err.Error() {
			t.Errorf("%+v: Walk says %v, Check says %v", c.filter, werr, err)
		}
	}
}

// Walk refuses what cannot become a function package, naming the path.
func TestWalkRefuses(t *testing.T) {
	for _, c := range []struct {
		name   string
		setup  func(t *testing.T, root string) string // returns the path to walk
		filter Filter
		want   string
	}{
		{"missing folder", func(t *testing.T, root string) string { return filepath.Join(root, "nope") }, Filter{}, "does not exist"},
		{"a file", func(t *testing.T, root string) string {
			writeFiles(t, root, map[string]string{"api.py": ""})
			return filepath.Join(root, "api.py")
		}, Filter{}, "is not a folder"},
		{"an empty folder", func(t *testing.T, root string) string { return root }, Filter{}, "packs nothing: it holds no files"},
		{"only litter", func(t *testing.T, root string) string {
			writeFiles(t, root, map[string]string{"__pycache__/a.pyc": "", ".env": "", "tests/test_a.py": ""})
			return root
		}, Filter{}, "packs nothing: everything in it is excluded (.env, __pycache__/, tests/)"},
		{"everything excluded by the caller", func(t *testing.T, root string) string {
			writeFiles(t, root, map[string]string{"api.py": ""})
			return root
		}, Filter{Exclude: []string{"*.py"}}, "everything in it is excluded (api.py)"},
		{"a symlink that would ship", func(t *testing.T, root string) string {
			writeFiles(t, root, map[string]string{"real.py": ""})
			symlink(t, "real.py", filepath.Join(root, "link.py"))
			return root
		}, Filter{}, "link.py is a symlink (to real.py)"},
		{"a symlinked folder", func(t *testing.T, root string) string {
			writeFiles(t, root, map[string]string{"api.py": ""})
			symlink(t, t.TempDir(), filepath.Join(root, "shared"))
			return root
		}, Filter{}, "shared is a symlink"},
		{"a named pipe that would ship", func(t *testing.T, root string) string {
			writeFiles(t, root, map[string]string{"api.py": ""})
			if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			return root
		}, Filter{}, "pipe is a named pipe (FIFO), not a regular file; exclude it with --exclude pipe"},
		{"a name a zip cannot hold", func(t *testing.T, root string) string {
			writeFiles(t, root, map[string]string{"api.py": "", "bad\nname.py": ""})
			return root
		}, Filter{}, `file "bad\nname.py" cannot go in a zip`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.setup(t, t.TempDir())
			_, err := Walk(p, c.filter)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

func symlink(t *testing.T, dest, at string) {
	t.Helper()
	if err := os.Symlink(dest, at); err != nil {
		t.Fatal(err)
	}
}

// Symlinks and other special files that are excluded are ignored, as in a
// checkout with an Emacs lock file or a .venv/bin/python link.
func TestWalkIgnoresExcludedSymlinks(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"api.py": "", "docs/x.md": ""})
	symlink(t, "user@host.1234", filepath.Join(root, ".#api.py"))
	symlink(t, "api.py", filepath.Join(root, "docs", "link.py"))
	tr, err := Walk(root, Filter{Exclude: []string{"docs/"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(tr); !slices.Equal(got, []string{"api.py"}) {
		t.Errorf("shipped %v", got)
	}
}

// The mode is 0755 when the file has any x bit and 0644 otherwise, whatever
// the umask made of the rest.
func TestWalkModes(t *testing.T) {
	root := t.TempDir()
	cases := []struct {
		name string
		mode fs.FileMode
		want fs.FileMode
	}{
		{"a.py", 0o644, 0o644},
		{"b.py", 0o600, 0o644},
		{"c.py", 0o664, 0o644},
		{"run", 0o755, 0o755},
		{"run-owner", 0o700, 0o755},
		{"run-group", 0o650, 0o755},
	}
	for _, c := range cases {
		writeFile(t, root, c.name, "x", c.mode)
	}
	tr, err := Walk(root, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		i := slices.IndexFunc(tr.Files, func(f File) bool { return f.Path == c.name })
		if i < 0 || tr.Files[i].Mode != c.want {
			t.Errorf("%s with mode %v: got %+v, want mode %v", c.name, c.mode, tr.Files, c.want)
		}
	}
}

// Open yields the content that was hashed, and fails at the end when the
// file changed since the walk.
func TestOpenVerifiesContent(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"api.py": "v1\n"})
	tr, err := Walk(root, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	read := func() ([]byte, error) {
		rc, err := tr.Files[0].Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	if data, err := read(); err != nil || string(data) != "v1\n" {
		t.Fatalf("read %q, %v", data, err)
	}
	writeFiles(t, root, map[string]string{"api.py": "v2\n"})
	if _, err := read(); err == nil || !strings.Contains(err.Error(), "api.py changed while packing") {
		t.Errorf("a changed file read without error: %v", err)
	}
}

const rsaKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----\n"
const cert = "-----BEGIN CERTIFICATE-----\nMIIDdz...\n-----END CERTIFICATE-----\n"

// Environment files and private keys are named in a warning, whether or
// not they ship, and saying which.
func TestWalkWarnings(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"api.py":                  "def handler(e, c): pass\n",
		".env":                    "A=1\n",
		".env.staging":            "A=2\n",
		".env.example":            "A=\n",
		"config/settings.py":      "KEY = '''" + rsaKey + "'''\n",
		"certs/server.key":        "opaque",
		"certs/ca-bundle.pem":     cert + cert,
		"certs/client.pem":        cert + "-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----\n",
		"deploy/id_ed25519":       "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n",
		"deploy/id_ed25519.pub":   "ssh-ed25519 AAAA",
		"tests/fixtures/test.pem": "-----BEGIN PRIVATE KEY-----\nx\n",
		"tests/fixtures/cert.pem": cert,
		"notes.pem":               "not pem at all",
		".venv/pyvenv.cfg":        "",
		".venv/lib/cacert.pem":    rsaKey, // a virtualenv is not entered
	})
	tr, err := Walk(root, Filter{Exclude: []string{"deploy/"}, Include: []string{".env.staging"}})
	if err != nil {
		t.Fatal(err)
	}
	at := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) + ": " }
	const ships, excluded = "it SHIPS in the function package", "excluded, so it does not ship"
	want := []string{
		at(".env") + "an environment file, which usually holds secrets; " + excluded,
		at(".env.staging") + "an environment file, which usually holds secrets; " + ships,
		at("certs/client.pem") + "holds a private key (-----BEGIN EC PRIVATE KEY-----); " + ships,
		at("certs/server.key") + "named like a private key file (.key); " + ships,
		at("config/settings.py") + "holds a private key (-----BEGIN RSA PRIVATE KEY-----); " + ships,
		at("deploy/id_ed25519") + "named like an SSH private key; " + excluded,
		at("notes.pem") + "a .pem file that holds no PEM block (a private key in another encoding?); " + ships,
		at("tests/fixtures/test.pem") + "holds a private key (-----BEGIN PRIVATE KEY-----); " + excluded,
	}
	if len(tr.Warnings) != len(want) {
		t.Fatalf("got %d warnings, want %d:\n%s", len(tr.Warnings), len(want), strings.Join(tr.Warnings, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(tr.Warnings[i], w) {
			t.Errorf("warning %d:\n got %s\nwant %s...", i, tr.Warnings[i], w)
		}
	}
}

// The content scan finds a key marker wherever it falls across the chunks
// a file is read in.
func TestKeyScannerAcrossChunks(t *testing.T) {
	marker := "-----BEGIN OPENSSH PRIVATE KEY-----"
	data := bytes.Repeat([]byte("x"), 300)
	for at := 0; at+len(marker) <= len(data); at += 7 {
		content := slices.Concat(data[:at], []byte(marker), data[at:])
		for _, chunk := range []int{1, 5, 33, 64, 97, 4096} {
			var s keyScanner
			for rest := content; len(rest) > 0; {
				n := min(chunk, len(rest))
				s.Write(rest[:n])
				rest = rest[n:]
			}
			if s.found != marker {
				t.Fatalf("marker at %d, chunks of %d: found %q", at, chunk, s.found)
			}
		}
	}
	var s keyScanner
	s.Write([]byte("-----BEGIN PUBLIC KEY-----\n" + cert))
	if s.found != "" || !s.pem {
		t.Errorf("a public key and a certificate read as %+v", s)
	}
}

// What a walk returns does not depend on the folder's path, the files'
// mtimes or the order they were created in.
func TestWalkIndependentOfFolderAndTime(t *testing.T) {
	a, b := t.TempDir(), filepath.Join(t.TempDir(), "other", "place")
	writeFiles(t, a, appTree)
	names := make([]string, 0, len(appTree))
	for p := range appTree {
		names = append(names, p)
	}
	slices.Sort(names)
	slices.Reverse(names)
	for _, p := range names {
		writeFile(t, b, p, appTree[p], 0o644)
		old := time.Date(1999, 12, 31, 23, 59, 0, 0, time.UTC)
		if err := os.Chtimes(filepath.Join(b, filepath.FromSlash(p)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	ta, err := Walk(a, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Walk(b, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	strip := func(fs []File) []File {
		out := slices.Clone(fs)
		for i := range out {
			out[i].abs = ""
		}
		return out
	}
	if !slices.Equal(strip(ta.Files), strip(tb.Files)) || !slices.Equal(ta.Excluded, tb.Excluded) {
		t.Errorf("two copies walk differently:\n%+v\n%+v", ta.Files, tb.Files)
	}
}

// Files that hold secrets by their name or their settings are each named,
// saying whether they ship; their harmless look-alikes are not.
func TestWalkWarnsAboutSecretFiles(t *testing.T) {
	const ships, excluded = "it SHIPS in the function package", "excluded, so it does not ship"
	const env = "an environment file, which usually holds secrets"
	cases := []struct {
		path, content string
		exclude       bool   // --exclude the file
		want          string // the warning after "PATH: ", "" for none
	}{
		{"prod.env", "DB_PASSWORD=x\n", false, env + "; " + ships},
		{"config/prod.env", "DB_PASSWORD=x\n", true, env + "; " + excluded},
		{".envrc", "export STRIPE_KEY=sk_live_x\n", false, env + "; " + ships},
		{".ENV", "A=1\n", false, env + "; " + ships},
		{".Env.Production", "A=1\n", false, env + "; " + ships},
		{".env-local", "A=1\n", false, env + "; " + ships},
		{"PROD.ENV", "A=1\n", false, env + "; " + ships},
		{".env", "A=1\n", false, env + "; " + excluded}, // a default exclude
		{".env.example", "A=\n", false, ""},
		{"sample.env", "A=\n", false, ""},
		{".ENV.EXAMPLE", "A=\n", false, ""},
		{"environment.py", "A = 1\n", false, ""},
		{".aws/credentials", "[default]\naws_access_key_id = AKIAX\naws_secret_access_key = abc\n", false,
			"an AWS credentials or config file holding aws_secret_access_key; " + ships},
		{"deploy/credentials", "[default]\r\nAWS_SESSION_TOKEN=tok\r\n", true,
			"an AWS credentials or config file holding aws_session_token; " + excluded},
		{".aws/config", "[profile ci]\nregion = us-east-1\naws_secret_access_key=abc\n", false,
			"an AWS credentials or config file holding aws_secret_access_key; " + ships},
		{"aws/config", "[default]\nregion = us-east-1\noutput = json\n", false, ""},
		{"settings/credentials", "aws_secret_access_key =\n", false, ""}, // no value
		{".npmrc", "//registry.npmjs.org/:_authToken=npm_abc\n", false, "an npm config file holding _authtoken; " + ships},
		{"web/.npmrc", "registry=https://registry.npmjs.org/\n", false, ""},
		{".pypirc", "[pypi]\nusername = __token__\npassword = pypi-abc\n", false, "a PyPI upload config file holding password; " + ships},
		{"pkg/.pypirc", "[distutils]\nindex-servers = pypi\n", false, ""},
		{".netrc", "machine pypi.example.com login ci password s3cret\n", true, "a netrc file holding password; " + excluded},
		{"_netrc", "machine x\n  login ci\n  password s3cret\n", false, "a netrc file holding password; " + ships},
		{"docs/.netrc", "machine x login ci\n", false, ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"handler.py": "def handler(e, c): pass\n", c.path: c.content})
			var f Filter
			if c.exclude {
				f.Exclude = []string{"/" + c.path}
			}
			tr, err := Walk(root, f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if c.want != "" {
				want = []string{filepath.Join(root, filepath.FromSlash(c.path)) + ": " + c.want}
			}
			if len(tr.Warnings) != len(want) {
				t.Fatalf("warnings %q, want %q", tr.Warnings, want)
			}
			for i := range want {
				if !strings.HasPrefix(tr.Warnings[i], want[i]) {
					t.Errorf("warning %q, want it to start with %q", tr.Warnings[i], want[i])
				}
			}
		})
	}
}

// A file that ships and is replaced by a FIFO after the walk is refused
// when the build opens it, by name, without blocking on it.
func TestFileReplacedByAFIFOIsNotRead(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"api.py": "x = 1\n"})
	tree, err := Walk(root, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "api.py")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	testenv.FIFO(t, p)
	testenv.NoBlock(t, "opening a FIFO that replaced a source file", func() {
		rc, oerr := tree.Files[0].Open()
		if oerr == nil {
			rc.Close()
		}
		err = oerr
	})
	if err == nil || !strings.Contains(err.Error(), "source file api.py: "+p+" is a named pipe (FIFO), not a regular file") {
		t.Errorf("Open = %v, want an error naming the FIFO", err)
	}
}
