// Package clip shortens user input that an error message echoes: a
// package name, a line of a lock, a URL or a file name may be megabytes
// long (a corrupted or hostile file), and a message must stay readable
// and small however long the input was.
package clip

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
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

// Args returns args with every string among them clipped (String), for
// a format whose values come from input: fmt.Sprintf(format,
// clip.Args(args)...).
func Args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = String(s)
		}
		out[i] = a
	}
	return out
}

// Inputs returns msg with every input longer than Max that it holds, as
// is or quoted (strconv.Quote, as %q writes it), clipped as String and
// Quote clip it. A command line uses it on what it prints, with its
// arguments (and, for --flag=VALUE, their values) as inputs: a message
// may quote an argument from any depth of the code, and however long the
// argument was, the message stays short.
func Inputs(msg string, inputs []string) string {
	var long []string
	for _, in := range inputs {
		if len(in) > Max {
			long = append(long, in)
		}
	}
	// The longest first, so a value is not clipped inside a longer input
	// that holds it.
	slices.SortFunc(long, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, in := range long {
		if !strings.Contains(msg, in) {
			continue
		}
		msg = strings.ReplaceAll(msg, strconv.Quote(in), Quote(in))
		msg = strings.ReplaceAll(msg, in, String(in))
	}
	return msg
}

// Error returns err with its message clipped as String clips it, for an
// error from below (a DNS lookup naming a host, a file system call naming
// a path) that quotes input of any length. errors.Is and errors.As still
// see err.
func Error(err error) error {
	if err == nil || len(err.Error()) <= Max {
		return err
	}
	return &clipped{err}
}

type clipped struct{ err error }

func (c *clipped) Error() string { return String(c.err.Error()) }
func (c *clipped) Unwrap() error { return c.err }
