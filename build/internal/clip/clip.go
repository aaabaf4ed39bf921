// Package clip shortens user input that an error message echoes: a
// package name, a line of a lock, a URL or a file name may be megabytes
// long (a corrupted or hostile file), and a message must stay readable
// and small however long the input was.
package clip

import (
	"strconv"
	"unicode/utf8"
)

// Max is the most bytes of one input a message shows. It is far above
// any real package name, version, URL or file name, so clipping only ever
// shortens input that is wrong anyway.
const Max = 200

// String returns s unchanged when it is at most Max bytes long, and
// otherwise its first bytes (cut at a UTF-8 character boundary) followed
// by "... (N bytes)", N being the length of s.
func String(s string) string {
	if len(s) <= Max {
		return s
	}
	return head(s) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// Quote is strconv.Quote(s) for s of at most Max bytes; a longer s is
// quoted clipped, with "... (N bytes)" after the closing quote, so the
// quoted part is still a valid Go string literal.
func Quote(s string) string {
	if len(s) <= Max {
		return strconv.Quote(s)
	}
	return strconv.Quote(head(s)) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// head is the longest prefix of s of at most Max bytes that does not end
// inside a UTF-8 character.
func head(s string) string {
	n := Max
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
