package index

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/html"
)

// pageFormat picks the parser for a simple-index response by its
// Content-Type. Servers that send none (or a generic one, as a plain file
// server might) are sniffed: JSON starts with '{'.
func pageFormat(contentType string, body []byte) (string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		mt = ""
	}
	switch mt {
	case "application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json", "application/json":
		return "json", nil
	case "application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.latest+html", "text/html":
		return "html", nil
	case "", "text/plain", "application/octet-stream":
		if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '{' {
			return "json", nil
		}
		return "html", nil
	}
	return "", fmt.Errorf("unsupported content type %q (want PEP 691 JSON or PEP 503 HTML)", contentType)
}

// parsePage parses a simple-index page fetched from base (the URL after
// redirects, which relative links are resolved against).
func parsePage(format string, body []byte, base *url.URL, source string) ([]File, error) {
	if format == "json" {
		return parseJSON(body, base, source)
	}
	return parseHTML(body, base, source)
}

// jsonPage is the part of a PEP 691 project page the builder uses.
type jsonPage struct {
	Meta struct {
		APIVersion string `json:"api-version"`
	} `json:"meta"`
	Files []struct {
		Filename string            `json:"filename"`
		URL      string            `json:"url"`
		Hashes   map[string]string `json:"hashes"`
		Yanked   json.RawMessage   `json:"yanked"`
	} `json:"files"`
}

func parseJSON(body []byte, base *url.URL, source string) ([]File, error) {
	var p jsonPage
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("PEP 691 JSON page: %w", err)
	}
	// PEP 691: a client must refuse a major version it does not know.
	if major, _, _ := strings.Cut(p.Meta.APIVersion, "."); p.Meta.APIVersion != "" && major != "1" {
		return nil, fmt.Errorf("PEP 691 JSON page: api-version %s is not supported (want 1.x)", p.Meta.APIVersion)
	}
	var out []File
	for _, f := range p.Files {
		u, err := base.Parse(f.URL)
		if err != nil || f.URL == "" || f.Filename == "" {
			return nil, fmt.Errorf("PEP 691 JSON page: file %q: bad url %q", f.Filename, redactRaw(f.URL))
		}
		yanked, reason := jsonYanked(f.Yanked)
		out = append(out, File{
			Filename:     f.Filename,
			URL:          cleanFileURL(u),
			SHA256:       cleanSHA256(f.Hashes["sha256"]),
			Source:       source,
			Yanked:       yanked,
			YankedReason: reason,
		})
	}
	return out, nil
}

// jsonYanked reads PEP 691's yanked: false or absent, true, or a reason
// string (which means yanked, even when empty).
func jsonYanked(raw json.RawMessage) (yanked bool, reason string) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return true, strings.TrimSpace(s)
	}
	return false, ""
}

func parseHTML(body []byte, base *url.URL, source string) ([]File, error) {
	z := html.NewTokenizer(bytes.NewReader(body))
	sawBase := false
	var out []File
	for {
		switch z.Next() {
		case html.ErrorToken:
			// The tokenizer ends with io.EOF; it reports nothing else, as
			// HTML has no syntax errors a browser would stop at.
			return out, nil
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if !hasAttr {
				continue
			}
			attrs := map[string]string{}
			for {
				k, v, more := z.TagAttr()
				attrs[string(k)] = string(v)
				if !more {
					break
				}
			}
			href, ok := attrs["href"]
			if !ok {
				continue
			}
			switch string(name) {
			case "base":
				// PEP 503 pages may set <base>; pip honours the first.
				if !sawBase {
					sawBase = true
					if b, err := base.Parse(href); err == nil {
						base = b
					}
				}
			case "a":
				u, err := base.Parse(href)
				if err != nil {
					continue // one broken link must not hide the others
				}
				if u.Path == "" || strings.HasSuffix(u.Path, "/") {
					continue // a folder (such as "../"), not a file
				}
				filename := path.Base(u.Path)
				// PEP 592: the attribute marks the file yanked; its value,
				// if any, is the reason.
				reason, yanked := attrs["data-yanked"]
				out = append(out, File{
					Filename:     filename,
					URL:          cleanFileURL(u),
					SHA256:       fragmentSHA256(u.Fragment),
					Source:       source,
					Yanked:       yanked,
					YankedReason: strings.TrimSpace(reason),
				})
			}
		}
	}
}

// fragmentSHA256 reads the PEP 503 hash fragment "sha256=<hex>"; other
// hash names give "".
func fragmentSHA256(frag string) string {
	name, value, ok := strings.Cut(frag, "=")
	if !ok || name != "sha256" {
		return ""
	}
	return cleanSHA256(value)
}

// cleanSHA256 lowercases a hex digest; anything that is not 64 hex digits
// becomes "" (no digest), so a bad one forces hashing rather than a lookup
// that can never match.
func cleanSHA256(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return ""
	}
	return s
}

// cleanFileURL drops the fragment (the hash, already read) and any userinfo
// (credentials are added back from the index at download time, and must
// never sit in a File that may be printed).
func cleanFileURL(u *url.URL) string {
	c := *u
	c.Fragment = ""
	c.RawFragment = ""
	c.User = nil
	return c.String()
}
