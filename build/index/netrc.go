package index

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/regular"
)

// netrcEntry is one machine (or the default) of a netrc file.
type netrcEntry struct {
	machine         string // "" for the default entry
	login, password string
}

// netrcToken is a word of a netrc file and the line it is on, for messages.
type netrcToken struct {
	text string
	line int
}

// tokenizeNetrc splits a netrc file into words. Words are separated by
// white space; a word may be double-quoted (with backslash escapes) to hold
// spaces, as curl allows; '#' at the start of a word comments out the rest
// of the line, as Python's netrc module allows. macdef bodies, which run to
// the next blank line, are dropped here since a macro is never a
// credential.
func tokenizeNetrc(data string) ([]netrcToken, error) {
	var toks []netrcToken
	line := 1
	i := 0
	for i < len(data) {
		c := data[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case c == '"':
			start := line
			var b strings.Builder
			i++
			for {
				if i >= len(data) {
					return nil, fmt.Errorf("line %d: unterminated quoted word", start)
				}
				c := data[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' && i+1 < len(data) {
					i++
					c = data[i]
				}
				if c == '\n' {
					line++
				}
				b.WriteByte(c)
				i++
			}
			toks = append(toks, netrcToken{b.String(), start})
		default:
			j := i
			for j < len(data) && !strings.ContainsRune(" \t\r\n\f\v", rune(data[j])) {
				j++
			}
			toks = append(toks, netrcToken{data[i:j], line})
			i = j
			if toks[len(toks)-1].text == "macdef" {
				// Skip the macro name and body: everything up to a blank line.
				end := strings.Index(data[i:], "\n\n")
				if end < 0 {
					end = len(data) - i
				}
				line += strings.Count(data[i:i+end], "\n")
				i += end
				toks = toks[:len(toks)-1]
			}
		}
	}
	return toks, nil
}

// parseNetrc parses the text of a netrc file.
func parseNetrc(data string) ([]netrcEntry, error) {
	toks, err := tokenizeNetrc(data)
	if err != nil {
		return nil, err
	}
	var entries []netrcEntry
	var cur *netrcEntry
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		value := func() (string, error) {
			if i+1 >= len(toks) {
				return "", fmt.Errorf("line %d: %s needs a value", t.line, clip.Quote(t.text))
			}
			i++
			return toks[i].text, nil
		}
		switch t.text {
		case "machine":
			name, err := value()
			if err != nil {
				return nil, err
			}
			entries = append(entries, netrcEntry{machine: name})
			cur = &entries[len(entries)-1]
		case "default":
			entries = append(entries, netrcEntry{})
			cur = &entries[len(entries)-1]
		case "login", "password", "account", "port":
			v, err := value()
			if err != nil {
				return nil, err
			}
			if cur == nil {
				return nil, fmt.Errorf("line %d: %s before any machine or default", t.line, clip.Quote(t.text))
			}
			switch t.text {
			case "login":
				cur.login = v
			case "password":
				cur.password = v
			}
		default:
			// The word is not shown: in a malformed file it may be part of
			// a password (an unquoted one with a space), and this error can
			// end up in a build log.
			return nil, fmt.Errorf("line %d: unexpected word (want machine, default, login, password, account, port or macdef)", t.line)
		}
	}
	return entries, nil
}

// lookupNetrc returns the login and password for host: the first machine
// entry naming host, else the default entry. Like curl and Python's
// requests, it matches the host name without the port.
func lookupNetrc(entries []netrcEntry, host string) (login, password string, ok bool) {
	var def *netrcEntry
	for i, e := range entries {
		if e.machine == "" {
			if def == nil {
				def = &entries[i]
			}
			continue
		}
		if strings.EqualFold(e.machine, host) {
			return e.login, e.password, true
		}
	}
	if def != nil {
		return def.login, def.password, true
	}
	return "", "", false
}

// netrcPath is the netrc file to read: the given path, else $NETRC, else
// ~/.netrc. It returns "" when there is no home folder to look in.
func netrcPath(p string) string {
	if p != "" {
		return p
	}
	if p := os.Getenv("NETRC"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".netrc")
}

// maxNetrcBytes bounds the netrc file read: a real one is a few lines.
const maxNetrcBytes = 1 << 20

// readNetrc reads and parses the netrc file at path. A missing file is no
// entries, not an error: most machines have none.
func readNetrc(path string) ([]netrcEntry, error) {
	if path == "" {
		return nil, nil
	}
	data, err := regular.ReadFile(path, maxNetrcBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var refused *regular.NotRegularError
	if errors.As(err, &refused) {
		return nil, fmt.Errorf("netrc: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("netrc %s: %w", clip.String(path), err)
	}
	entries, err := parseNetrc(string(data))
	if err != nil {
		return nil, fmt.Errorf("netrc %s %w", clip.String(path), err)
	}
	return entries, nil
}
