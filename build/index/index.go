// Package index lists and downloads the files of a Python project from the
// places pip would look: simple repository indexes (PEP 691 JSON or PEP 503
// HTML, PyPI by default, private ones by URL) and local find-links folders.
//
// Credentials come from the userinfo of an index or find-links URL or,
// failing that, from a netrc file; they are sent as HTTP Basic auth and
// never appear in a File, an error or a message. Transient failures (network errors, 5xx, 429) are
// retried with exponential backoff and jitter, honouring Retry-After.
//
// The package does not check that a download has the sha256 the lock
// expects: its caller writes downloads through build/cache, which does.
package index

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/redact"
)

// DefaultIndexURL is the index used when Sources.IndexURL is empty.
const DefaultIndexURL = "https://pypi.org/simple/"

// DefaultRetries is the number of retries after a first failed attempt
// when Sources.Retries is zero.
const DefaultRetries = 4

// acceptSimple asks for PEP 691 JSON, falling back to PEP 503 HTML for
// indexes that predate PEP 691 (as pip does).
const acceptSimple = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

// File is one distribution file of a project.
type File struct {
	Filename string
	// URL is where to fetch the file: an http(s) URL with any credentials
	// removed (Download adds them back), or a file:// URL for a file in a
	// find-links folder.
	URL string
	// SHA256 is the digest the source gave, lowercase hex, or "" if it gave
	// none (find-links folders never do: hashing every file in a folder to
	// list it would cost more than hashing the few that are downloaded).
	SHA256 string
	// Source is the index URL (without credentials) or the find-links
	// folder the file was listed by, for messages.
	Source string
	// Yanked is set when the index marks the file yanked (PEP 592).
	Yanked bool
	// YankedReason is the reason the index gave for yanking the file (a
	// PEP 691 yanked string, or a PEP 592 data-yanked value), or "" if it
	// gave none. It is only ever set when Yanked is.
	YankedReason string
	// Size is the file's size in bytes as the index declares it (PEP 700,
	// in PEP 691 JSON pages), or 0 when it declares none. Download refuses
	// to fetch more than this.
	Size int64
}

// Sources says where to look for files and how to reach them. The zero
// value looks in PyPI only. A Sources must not be changed while in use; it
// is otherwise safe for concurrent use.
type Sources struct {
	// IndexURL is the primary simple index; DefaultIndexURL if empty.
	// Userinfo in it (https://user:token@host/simple/) is sent as Basic
	// auth to it and to files on the same scheme and host, unless NoIndex.
	IndexURL string
	// ExtraIndexURLs are searched after IndexURL, and their files merged.
	ExtraIndexURLs []string
	// FindLinks are local folders (a path or a file:// URL) whose files
	// are listed when their names belong to the project, or http(s) URLs
	// of HTML or JSON pages of links, filtered the same way. Userinfo in
	// an http(s) find-links URL is sent as Basic auth to it and to files on
	// the same scheme and host, as for IndexURL.
	FindLinks []string
	// NoIndex skips IndexURL and ExtraIndexURLs: only FindLinks are used.
	NoIndex bool
	// HTTPClient sends the requests; http.DefaultClient if nil.
	HTTPClient *http.Client
	// NetrcPath is the netrc file with credentials for hosts whose URL has
	// none; $NETRC or ~/.netrc if empty. A missing file means none. A file
	// that cannot be read or parsed also means none, as with pip; the
	// reason is given in the hint of a 401 or 403 StatusError.
	NetrcPath string
	// Retries is how many times a transiently failed request is retried:
	// DefaultRetries if zero, none if negative.
	Retries int
	// UserAgent is sent with every request; "lambdapack" if empty.
	UserAgent string
	// Progress, if not nil, counts the bytes Download fetches. The caller
	// counts files (Progress.FileDone), once each is verified and stored.
	Progress *Progress
	// Log, if not nil, receives notes, one line per Write: a request that
	// has taken over 10 s so far and what it is for, and links a page may
	// not give. Files and Download may be called from several goroutines,
	// so Log must be safe for concurrent use.
	Log io.Writer

	// Test hooks, each with its default when zero: wait sleeps between
	// attempts (a timer that ends early when ctx is done); stall is the
	// window in which a request must receive minBytes bytes (or the rest
	// of its body) or be abandoned and retried (stallTimeout,
	// minWindowBytes); slow is when a request is first named on Log
	// (slowAfter); maxBytes caps a download whose size the index does not
	// declare (MaxDownloadBytes).
	wait     func(ctx context.Context, d time.Duration) error
	stall    time.Duration
	minBytes int64
	slow     time.Duration
	maxBytes int64
}

// note writes one line to Log, clearing the progress line first when one
// is drawn on a terminal.
func (s *Sources) note(msg string) {
	if s.Progress.interrupt(msg) || s.Log == nil {
		return
	}
	io.WriteString(s.Log, msg+"\n")
}

// StatusError is an HTTP response that was neither success nor "not
// found" for an index page, or not success for a download.
type StatusError struct {
	URL        string // without credentials
	StatusCode int
	Status     string // e.g. "503 Service Unavailable"
	Hint       string // what the user may do about it, or ""
}

// Error returns "GET <url>: <status>", followed by the hint in
// parentheses when there is one.
func (e *StatusError) Error() string {
	msg := "GET " + e.URL + ": " + e.Status
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// endpoint is an index or find-links URL with its credentials split off.
type endpoint struct {
	url        *url.URL // no userinfo
	user, pass string
	hasCreds   bool
}

// display returns the URL as messages and File.Source show it (clipped:
// it is echoed in every message about the index).
func (e endpoint) display() string { return clip.String(e.url.String()) }

// parseEndpoint parses an index or find-links URL (kind, for messages),
// moving userinfo into credentials.
func parseEndpoint(kind, raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The raw text may hold a password: show it redacted.
		return endpoint{}, fmt.Errorf("%s %s: want an absolute http:// or https:// URL", kind, clip.String(redactRaw(raw)))
	}
	e := endpoint{url: u}
	if u.User != nil {
		e.user = u.User.Username()
		e.pass, _ = u.User.Password()
		e.hasCreds = true
		c := *u
		c.User = nil
		e.url = &c
	}
	return e, nil
}

// redactRaw hides the userinfo of a URL that may not parse (redact.Raw).
func redactRaw(raw string) string { return redact.Raw(raw) }

// redactURL returns a URL string without userinfo (redact.URL).
func redactURL(raw string) string { return redact.URL(raw) }

// normalize is the PEP 503 normalized form of a project name: lowercase,
// runs of '-', '_' and '.' replaced by one '-'.
func normalize(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

// checkProject accepts PEP 508 project names only, which also keeps a name
// from steering a request to another path on the index.
func checkProject(name string) error {
	ok := name != ""
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		edge := i == 0 || i == len(name)-1
		ok = alnum || (!edge && (c == '-' || c == '_' || c == '.'))
	}
	if !ok {
		return fmt.Errorf("project %s: not a valid Python project name", clip.Quote(name))
	}
	return nil
}

// session is the state of one Files or Download call: the parsed indexes,
// the endpoints whose URL carries credentials and, read at most once, the
// netrc entries.
type session struct {
	s       *Sources
	client  *http.Client
	indexes []endpoint // none if NoIndex
	// auth holds the endpoints with credentials, in the order they are
	// tried: indexes, then find-links pages.
	auth      []endpoint
	netrc     []netrcEntry
	netrcErr  error // why the netrc file was ignored, if it was
	netrcRead bool
}

func (s *Sources) session() (*session, error) {
	ss := &session{s: s, client: s.HTTPClient}
	if ss.client == nil {
		ss.client = http.DefaultClient
	}
	if !s.NoIndex {
		raw := append([]string{s.IndexURL}, s.ExtraIndexURLs...)
		if raw[0] == "" {
			raw[0] = DefaultIndexURL
		}
		for _, r := range raw {
			e, err := parseEndpoint("index URL", r)
			if err != nil {
				return nil, err
			}
			ss.indexes = append(ss.indexes, e)
		}
	}
	for _, e := range ss.indexes {
		if e.hasCreds {
			ss.auth = append(ss.auth, e)
		}
	}
	for _, fl := range s.FindLinks {
		if !isHTTP(fl) {
			continue
		}
		e, err := parseEndpoint("find-links", fl)
		if err != nil {
			return nil, err
		}
		if e.hasCreds {
			ss.auth = append(ss.auth, e)
		}
	}
	return ss, nil
}

// isHTTP reports whether a find-links entry is a page URL rather than a
// folder.
func isHTTP(fl string) bool {
	u, err := url.Parse(fl)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// credsFor returns the Basic auth credentials for a request to u: the
// credentials of an index or find-links URL on the same scheme and host,
// else the netrc entry for the host. A netrc file that cannot be read is
// treated as empty, its error kept for the hint of a 401 or 403 (see
// statusError): it must not break requests to hosts that need no
// credentials.
func (ss *session) credsFor(u *url.URL) (user, pass string, ok bool) {
	for _, e := range ss.auth {
		if e.url.Scheme == u.Scheme && strings.EqualFold(e.url.Host, u.Host) {
			return e.user, e.pass, true
		}
	}
	if !ss.netrcRead {
		ss.netrcRead = true
		ss.netrc, ss.netrcErr = readNetrc(netrcPath(ss.s.NetrcPath))
	}
	return lookupNetrc(ss.netrc, u.Hostname())
}

// Files lists the files of project in every source: the primary index,
// then the extra indexes, then the find-links (only the find-links if
// NoIndex). An index that does not have the project is not an error; an
// index that cannot be read (after retries) is. Files that two sources both list with the same
// filename and sha256 appear once, from the first; files without a sha256
// (as in find-links folders) are told apart by URL, since two of the same
// name may hold different bytes.
//
// When no source lists a file named for the project and a page fetched
// with success listed none either (a login or captive-portal page
// served in place of the index), the error is an *EmptyPageError naming
// the page.
func (s *Sources) Files(ctx context.Context, project string) ([]File, error) {
	if err := checkProject(project); err != nil {
		return nil, err
	}
	ss, err := s.session()
	if err != nil {
		return nil, err
	}
	var all []File
	var empty []EmptyPage
	for _, e := range ss.indexes {
		files, ep, err := ss.listIndex(ctx, e, project)
		if err != nil {
			return nil, fmt.Errorf("listing project %s on index %s: %w", clip.String(project), e.display(), err)
		}
		all = append(all, files...)
		if ep != nil {
			empty = append(empty, *ep)
		}
	}
	for _, fl := range s.FindLinks {
		files, ep, err := ss.listFindLinks(ctx, fl, project)
		if err != nil {
			where := fl
			if strings.Contains(fl, "://") {
				where = redactRaw(fl)
			}
			return nil, fmt.Errorf("listing project %s in find-links %s: %w", clip.String(project), clip.String(where), err)
		}
		all = append(all, files...)
		if ep != nil {
			empty = append(empty, *ep)
		}
	}
	if len(empty) > 0 && !slices.ContainsFunc(all, func(f File) bool { return belongsTo(f.Filename, project) }) {
		return nil, &EmptyPageError{Project: project, Pages: empty}
	}
	// The same file is often on two indexes (a mirror, a proxy): keep
	// one. Without a digest, the same name is no proof of the same bytes,
	// and which copy survived would depend on the order of the sources.
	type key struct{ filename, sha256, url string }
	seen := make(map[key]bool)
	out := all[:0]
	for _, f := range all {
		k := key{filename: f.Filename, sha256: f.SHA256}
		if f.SHA256 == "" {
			k.url = f.URL
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out, nil
}

// EmptyPage is a page that was fetched with success but lists no
// distribution (of the project, for an index page; at all, for a
// find-links page).
type EmptyPage struct {
	URL string // as asked for, without credentials
	// Final is the URL that answered, after redirects ("" when the same):
	// a captive portal redirects to its login page.
	Final string
	Title string // an HTML page's <title>, "" if none
	HTML  bool   // the page was HTML, as a login page is (a JSON one is an index's)
}

// EmptyPageError is Files' error when no source lists a file of the
// project and some page listed no distribution: most likely a login or
// captive-portal page served in place of the index, or an index URL that
// points at something else.
type EmptyPageError struct {
	Project string
	Pages   []EmptyPage
}

// Error names each page, where it was redirected to, and its title.
func (e *EmptyPageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no source lists a file of %s, and ", clip.String(e.Project))
	for i, p := range e.Pages {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "the page %s", p.URL)
		if p.Final != "" {
			fmt.Fprintf(&b, " (redirected to %s)", p.Final)
		}
		b.WriteString(" answered but lists no distributions")
		if p.Title != "" {
			fmt.Fprintf(&b, " (its title is %s)", clip.Quote(p.Title))
		}
	}
	if slices.ContainsFunc(e.Pages, func(p EmptyPage) bool { return p.HTML }) {
		b.WriteString(": is it a login or captive-portal page rather than a simple index? Check the index URL, its credentials and the network")
	} else {
		b.WriteString(": the index has the project but no files for it")
	}
	return b.String()
}

// listIndex fetches and parses the project page of one index; empty is
// set when the page was there but listed no file named for the project.
func (ss *session) listIndex(ctx context.Context, e endpoint, project string) (files []File, empty *EmptyPage, err error) {
	u := *e.url
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + normalize(project) + "/"
	u.RawPath = ""
	pg, found, err := ss.fetchPage(ctx, &u, e.display(), fmt.Sprintf("listing project %s on index %s", clip.String(project), e.display()))
	if err != nil || !found {
		return nil, nil, err
	}
	if !slices.ContainsFunc(pg.files, func(f File) bool { return belongsTo(f.Filename, project) }) {
		empty = pg.empty(&u)
	}
	return pg.files, empty, nil
}

// listFindLinks lists the files of project in a find-links folder or page;
// empty is set for a page that lists no distribution at all.
func (ss *session) listFindLinks(ctx context.Context, fl, project string) (out []File, empty *EmptyPage, err error) {
	if isHTTP(fl) {
		e, err := parseEndpoint("find-links", fl)
		if err != nil {
			return nil, nil, err
		}
		pg, found, err := ss.fetchPage(ctx, e.url, e.display(), "reading find-links page "+e.display())
		if err != nil {
			return nil, nil, err
		}
		if !found {
			return nil, nil, &StatusError{URL: e.display(), StatusCode: http.StatusNotFound, Status: "404 Not Found"}
		}
		listsAny := false
		for _, f := range pg.files {
			if isDistribution(f.Filename) {
				listsAny = true
			}
			if belongsTo(f.Filename, project) {
				out = append(out, f)
			}
		}
		if !listsAny {
			empty = pg.empty(e.url)
		}
		return out, empty, nil
	}
	dir, err := localPath(fl)
	if err != nil {
		return nil, nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, de := range entries {
		name := de.Name()
		if !belongsTo(name, project) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue // a folder or a dangling link is not a distribution
		}
		out = append(out, File{Filename: name, URL: fileURL(p), Source: dir})
	}
	return out, nil, nil
}

// isDistribution reports whether filename is named like a wheel or an
// sdist of some project: NAME-VERSION... with an archive's extension.
func isDistribution(filename string) bool {
	i := strings.LastIndex(filename, "-")
	if strings.HasSuffix(strings.ToLower(filename), ".whl") {
		i = strings.Index(filename, "-")
	}
	return i > 0 && belongsTo(filename, filename[:i])
}

// localPath turns a find-links entry (a path or a file:// URL) into an
// absolute path.
func localPath(fl string) (string, error) {
	p := fl
	if strings.HasPrefix(fl, "file:") {
		u, err := url.Parse(fl)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return "", errors.New("want a folder path or a file:///absolute/path URL")
		}
		p = filepath.FromSlash(u.Path)
	}
	return filepath.Abs(p)
}

// fileURL is the file:// URL of an absolute path.
func fileURL(p string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
}

// belongsTo reports whether filename is a wheel or sdist of project. A
// wheel's name part (before the first '-') is escaped, so it normalizes to
// the project exactly. An sdist's name part may itself hold '-'
// ("pillow-heif-0.15.0.tar.gz"), so any '-' that splits the stem into a
// name normalizing to the project and a version (a digit first, no '-')
// counts.
func belongsTo(filename, project string) bool {
	want := normalize(project)
	lower := strings.ToLower(filename)
	if strings.HasSuffix(lower, ".whl") {
		name, _, ok := strings.Cut(filename, "-")
		return ok && normalize(name) == want
	}
	stem := ""
	for _, ext := range []string{".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar"} {
		if strings.HasSuffix(lower, ext) {
			stem = filename[:len(filename)-len(ext)]
			break
		}
	}
	for i := 0; i < len(stem)-1; i++ {
		rest := stem[i+1:]
		if stem[i] == '-' && normalize(stem[:i]) == want &&
			'0' <= rest[0] && rest[0] <= '9' && !strings.Contains(rest, "-") {
			return true
		}
	}
	return false
}

// CheckIndexURL reports whether raw is a usable index URL (absolute
// http:// or https://), so a command line can refuse a bad one before any
// work starts. Its error never shows a password the URL holds.
func CheckIndexURL(raw string) error {
	_, err := parseEndpoint("index URL", raw)
	return err
}

// Describe names, for a "not found" message, where s looks: its index URLs
// without credentials, then its find-links folders.
func (s *Sources) Describe() string {
	var where []string
	if !s.NoIndex {
		where = append(where, clip.String(redactURL(cmp.Or(s.IndexURL, DefaultIndexURL))))
		for _, u := range s.ExtraIndexURLs {
			where = append(where, clip.String(redactURL(u)))
		}
	}
	for _, fl := range s.FindLinks {
		where = append(where, clip.String(redactRaw(fl)))
	}
	if len(where) == 0 {
		return "nothing: no index and no find-links folder"
	}
	return strings.Join(where, ", ")
}
