// Package pyname holds the rules for Python project names that the lock,
// wheel filenames and package indexes must agree on: PEP 508 validity and
// PEP 503 normalization. Keeping one copy means "Pillow", "pillow" and
// "PILLOW" can never name one project in one place and two in another.
package pyname

import "strings"

// Normalize returns the PEP 503 normalized form of a project name:
// lowercase, with every run of '-', '_' and '.' replaced by one '-'. Two
// spellings name the same project exactly when they normalize equal.
func Normalize(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// Valid reports whether s is a valid PEP 508 project name: ASCII letters,
// digits, '.', '_' and '-', starting and ending with a letter or digit. A
// valid name can also never steer an index request to another path.
func Valid(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
