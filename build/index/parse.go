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

	"github.com/galerly/galerly-lambda/build/internal/clip"
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
	return "", fmt.Errorf("unsupported content type %s (want PEP 691 JSON or PEP 503 HTML)", clip.Quote(contentType))
}

// page is what a simple-index page lists.
type page struct {
	files []File
	// refused are the links the page may not give (a file:// URL on a
	// remote page), each described for a note.
	refused []string
	// title is an HTML page's <title>, for a message about a page that
	// lists nothing (a login page says "Sign in").
	title string
	// final is the URL that answered, after redirects, without
	// credentials.
	final string
	html  bool // the page was HTML
}

// empty describes the page, asked for at u, as one that lists nothing.
func (p page) empty(u *url.URL) *EmptyPage {
	e := &EmptyPage{URL: clip.String(redactURL(u.String())), Title: p.title, HTML: p.html}
	if p.final != "" && p.final != redactURL(u.String()) {
		e.Final = clip.String(p.final)
	}
	return e
}

// parsePage parses a simple-index page fetched from base (the URL after
// redirects, which relative links are resolved against). Only http and
// https links are kept: a remote page may not send the builder to the
// local disk (file://) or anywhere else; those links are listed in
// page.refused.
func parsePage(format string, body []byte, base *url.URL, source string) (page, error) {
	if format == "json" {
		return parseJSON(body, base, source)
	}
	pg, err := parseHTML(body, base, source)
	pg.html = true
	return pg, err
}

// remoteLink reports whether a link on a remote page may be followed.
func remoteLink(u *url.URL) bool { return u.Scheme == "http" || u.Scheme == "https" }

// refusal describes a link refused by remoteLink, for a note.
func refusal(filename string, u *url.URL) string {
	return fmt.Sprintf("%s at %s", clip.String(filename), clip.String(redactURL(u.String())))
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
		// Size is PEP 700's file size (api-version 1.1), absent before.
		Size *int64 `json:"size"`
	} `json:"files"`
}

func parseJSON(body []byte, base *url.URL, source string) (page, error) {
	var p jsonPage
	if err := json.Unmarshal(body, &p); err != nil {
		return page{}, fmt.Errorf("PEP 691 JSON page: %w", err)
	}
	// PEP 691: a client must refuse a major version it does not know.
	if major, _, _ := strings.Cut(p.Meta.APIVersion, "."); p.Meta.APIVersion != "" && major != "1" {
		return page{}, fmt.Errorf("PEP 691 JSON page: api-version %s is not supported (want 1.x)", clip.String(p.Meta.APIVersion))
	}
	var out page
	for _, f := range p.Files {
		u, err := base.Parse(f.URL)
		if err != nil || f.URL == "" || f.Filename == "" {
			return page{}, fmt.Errorf("PEP 691 JSON page: file %s: bad url %s", clip.Quote(f.Filename), clip.Quote(redactRaw(f.URL)))
		}
		if !remoteLink(u) {
			out.refused = append(out.refused, refusal(f.Filename, u))
			continue
		}
		size := int64(0)
		if f.Size != nil && *f.Size > 0 {
			size = *f.Size
		}
		yanked, reason := jsonYanked(f.Yanked)
		out.files = append(out.files, File{
			Filename:     f.Filename,
			URL:          cleanFileURL(u),
			SHA256:       cleanSHA256(f.Hashes["sha256"]),
			Size:         size,
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

func parseHTML(body []byte, base *url.URL, source string) (page, error) {
	z := html.NewTokenizer(bytes.NewReader(body))
	sawBase, inTitle := false, false
	var out page
	for {
		switch z.Next() {
		case html.ErrorToken:
			// The tokenizer ends with io.EOF; it reports nothing else, as
			// HTML has no syntax errors a browser would stop at.
			out.title = strings.Join(strings.Fields(out.title), " ")
			return out, nil
		case html.TextToken:
			if inTitle {
				out.title += string(z.Text())
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "title" {
				inTitle = false
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if string(name) == "title" && out.title == "" {
				inTitle = true
			}
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
				if !remoteLink(u) {
					out.refused = append(out.refused, refusal(filename, u))
					continue
				}
				// PEP 592: the attribute marks the file yanked; its value,
				// if any, is the reason.
				reason, yanked := attrs["data-yanked"]
				out.files = append(out.files, File{
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
