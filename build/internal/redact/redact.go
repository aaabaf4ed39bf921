// Package redact hides the credentials a URL may hold (https://user:token@host/),
// so messages and notes can name an index or a link without leaking them.
package redact

import (
	"net/url"
	"strings"
)

// Raw hides the userinfo of a URL that may not parse. It errs on the side
// of hiding: everything up to the last '@' before any query goes, since a
// password may itself hold '/' or ':'.
func Raw(raw string) string {
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme {
		scheme, rest = "", raw
	}
	end := strings.IndexAny(rest, "?#")
	if end < 0 {
		end = len(rest)
	}
	if i := strings.LastIndex(rest[:end], "@"); i >= 0 {
		rest = "xxxxx@" + rest[i+1:]
	}
	if hasScheme {
		return scheme + "://" + rest
	}
	return rest
}

// URL returns a URL string without userinfo: parsed when it parses with a
// host, else as Raw hides it ("user:pw@host/simple" parses as an opaque
// URL whose "user" is its scheme, and would show the password).
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Raw(raw)
	}
	u.User = nil
	return u.String()
}
