package index

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

func TestNetrcLookup(t *testing.T) {
	for _, tc := range []struct {
		name, netrc, host string
		login, password   string
		ok                bool
	}{
		{"one line", "machine idx.example.com login u password p", "idx.example.com", "u", "p", true},
		{"several lines", "machine idx.example.com\n\tlogin u\n\tpassword p\n", "idx.example.com", "u", "p", true},
		{"host case", "machine IDX.Example.com login u password p", "idx.example.com", "u", "p", true},
		{"second machine", "machine a login ua password pa\nmachine b login ub password pb", "b", "ub", "pb", true},
		{"first match wins", "machine b login first password 1\nmachine b login second password 2", "b", "first", "1", true},
		{"no match", "machine a login ua password pa", "b", "", "", false},
		{"default", "machine a login ua password pa\ndefault login d password pd", "b", "d", "pd", true},
		{"machine beats default", "default login d password pd\nmachine b login ub password pb", "b", "ub", "pb", true},
		{"login only", "machine b login token", "b", "token", "", true},
		{"account ignored", "machine b login u account acct password p", "b", "u", "p", true},
		{"quoted password", `machine b login u password "p w \"q\""`, "b", "u", `p w "q"`, true},
		{"comments", "# my hosts\nmachine b # the index\n login u\n password p # secret\n", "b", "u", "p", true},
		{"macdef skipped", "machine a login ua password pa\nmacdef init\ncd /pub\nlogin x password y\n\nmachine b login ub password pb\n", "b", "ub", "pb", true},
		{"macdef body is not a machine", "macdef m\nmachine b login evil password evil\n\n", "b", "", "", false},
		{"CRLF", "machine b\r\nlogin u\r\npassword p\r\n", "b", "u", "p", true},
		{"empty", "", "b", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := parseNetrc(tc.netrc)
			if err != nil {
				t.Fatal(err)
			}
			login, password, ok := lookupNetrc(entries, tc.host)
			if login != tc.login || password != tc.password || ok != tc.ok {
				t.Errorf("lookup(%q) = %q, %q, %v; want %q, %q, %v", tc.host, login, password, ok, tc.login, tc.password, tc.ok)
			}
		})
	}
}

func TestNetrcErrors(t *testing.T) {
	for _, tc := range []struct{ netrc, want string }{
		{"machine", "line 1: \"machine\" needs a value"},
		{"machine a\nlogin", "line 2: \"login\" needs a value"},
		{"login u password p", "line 1: \"login\" before any machine"},
		{"machine a\n\nusername u", "line 3: unexpected word"},
		{"machine a login u password \"unterminated\n", "line 1: unterminated quoted word"},
		{"machine a login \"two\nlines\" oops", "line 2: unexpected word"},
		// An unquoted password with a space: the error, which may be
		// logged, must not show the rest of it.
		{"machine a login u password hunter2 s3cret", "line 1: unexpected word"},
	} {
		_, err := parseNetrc(tc.netrc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseNetrc(%q) err = %v, want %q", tc.netrc, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("parseNetrc(%q) err = %v shows a password", tc.netrc, err)
		}
	}
}

func TestNetrcPathAndMissingFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("NETRC", "")
	if got := netrcPath(""); got != filepath.Join(dir, ".netrc") {
		t.Errorf("netrcPath() = %q, want ~/.netrc", got)
	}
	t.Setenv("NETRC", "/etc/elsewhere")
	if got := netrcPath(""); got != "/etc/elsewhere" {
		t.Errorf("netrcPath() with $NETRC = %q", got)
	}
	if got := netrcPath("/explicit"); got != "/explicit" {
		t.Errorf("netrcPath(explicit) = %q", got)
	}
	entries, err := readNetrc(filepath.Join(dir, "absent"))
	if err != nil || entries != nil {
		t.Errorf("missing netrc = %v, %v; want no entries and no error", entries, err)
	}
	// A folder where the file should be is an error worth reporting.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := readNetrc(filepath.Join(dir, "d")); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "d")) {
		t.Errorf("unreadable netrc err = %v, want one naming it", err)
	}
}

// A netrc path (--netrc, $NETRC) that names a FIFO or a device is refused
// by name, unread: reading it would block the build or never end.
func TestNetrcThatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := testenv.FIFO(t, filepath.Join(dir, "netrc-fifo"))
	zero := testenv.DevZeroLink(t, filepath.Join(dir, "netrc-zero"))
	for _, c := range []struct{ path, want string }{
		{fifo, "netrc: " + fifo + " is a named pipe (FIFO), not a regular file"},
		{zero, "netrc: " + zero + " is a character device, not a regular file"},
	} {
		var err error
		testenv.NoBlock(t, "readNetrc("+c.path+")", func() { _, err = readNetrc(c.path) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("readNetrc(%s) = %v, want %q", c.path, err, c.want)
		}
	}
}
