package source

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/regular"
)

// privateKeyRE matches the first line of a PEM or OpenSSH private key
// ("-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----",
// "-----BEGIN PRIVATE KEY-----", "-----BEGIN PGP PRIVATE KEY BLOCK-----").
var privateKeyRE = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----`)

// privateKeyWord is in every privateKeyRE match.
var privateKeyWord = []byte("PRIVATE KEY")

// markerMax bounds the length of a privateKeyRE match, so a scan that sees
// a file in chunks keeps only this much of the previous chunk.
const markerMax = 96

// pemReadMax bounds how much of an excluded .pem file is read to tell a
// certificate bundle from a key.
const pemReadMax = 1 << 20

// keyNames are the default file names of SSH private keys.
var keyNames = map[string]bool{
	"id_rsa": true, "id_dsa": true, "id_ecdsa": true, "id_ed25519": true,
	"id_ecdsa_sk": true, "id_ed25519_sk": true,
}

// keyExts are extensions of files that usually hold a private key. A .pem
// file is judged by its content instead: it is as often a CA bundle.
var keyExts = []string{".key", ".p12", ".pfx", ".ppk"}

// envTemplates name environment files that are committed on purpose to
// show which variables exist (".env.example", "sample.env"); they are
// not warned about (the default excludes leave out the .env.* ones).
var envTemplates = map[string]bool{"example": true, "sample": true, "template": true, "dist": true, "defaults": true}

// warning is one line of Tree.Warnings with the path it is about.
type warning struct{ path, text string }

func (w *walker) warn(rel, what string, ships bool) {
	status := "excluded, so it does not ship"
	if ships {
		status = "it SHIPS in the function package: exclude it with --exclude, or move it out of the source folder"
	}
	w.warnings = append(w.warnings, warning{rel, fmt.Sprintf("%s: %s; %s", filepath.Join(w.root, filepath.FromSlash(rel)), what, status)})
}

// isEnvFile reports whether name is an environment file, in any case:
// ".env" and any name starting with it (".env.prod", ".env-local",
// ".envrc", direnv's), or ending in ".env" ("prod.env"). A template
// (".env.example", "sample.env") is not.
func isEnvFile(name string) bool {
	lower := strings.ToLower(name)
	var rest string
	switch {
	case strings.HasPrefix(lower, ".env"):
		rest = lower[len(".env"):]
	case strings.HasSuffix(lower, ".env"):
		rest = lower[:len(lower)-len(".env")]
	default:
		return false
	}
	return !envTemplates[strings.Trim(rest, ".-_")]
}

// credentialFile is a config file some tool keeps credentials in: it is a
// secret when a line of it sets one of them.
type credentialFile struct {
	what   string         // "an AWS credentials or config file", for the warning
	secret *regexp.Regexp // a line setting a secret; its first group names it
}

// credentialFiles are those config files, by lowercase name. Only files
// that set a secret are named: an AWS config with only a region, or an
// .npmrc with only a registry, is harmless.
var credentialFiles = func() map[string]credentialFile {
	aws := credentialFile{"an AWS credentials or config file",
		regexp.MustCompile(`(?im)^[ \t]*(aws_secret_access_key|aws_session_token|aws_security_token)[ \t]*=[ \t]*\S`)}
	netrc := credentialFile{"a netrc file", regexp.MustCompile(`(?i)(?:^|\s)(password)\s+\S`)}
	return map[string]credentialFile{
		"credentials": aws,
		"config":      aws,
		// npm: "_authToken=..." or "//registry.example/:_authToken=...".
		".npmrc":  {"an npm config file", regexp.MustCompile(`(?im)(?:^|:)[ \t]*(_authToken|_auth|_password|password)[ \t]*=[ \t]*\S`)},
		".pypirc": {"a PyPI upload config file", regexp.MustCompile(`(?im)^[ \t]*(password)[ \t]*[=:][ \t]*\S`)},
		".netrc":  netrc,
		"_netrc":  netrc,
	}
}()

// credentialsIn describes the file at abs, named name, when it is a
// credential file that sets a secret ("an npm config file holding
// _authToken"), and is "" otherwise. Only such names are read, and only
// their first pemReadMax bytes. abs was listed as a regular file.
func credentialsIn(name, abs string) string {
	cf, ok := credentialFiles[strings.ToLower(name)]
	if !ok {
		return ""
	}
	fh, _, err := regular.OpenListed(abs)
	if err != nil {
		return ""
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, pemReadMax))
	if err != nil {
		return ""
	}
	m := cf.secret.FindSubmatch(data)
	if m == nil {
		return ""
	}
	return fmt.Sprintf("%s holding %s", cf.what, strings.ToLower(string(m[1])))
}

// keyByName describes name when it is named like a private key file.
func keyByName(name string) string {
	if keyNames[name] {
		return "named like an SSH private key"
	}
	for _, ext := range keyExts {
		if strings.HasSuffix(strings.ToLower(name), ext) {
			return "named like a private key file (" + ext + ")"
		}
	}
	return ""
}

// checkShipped warns about a file that ships, whose content scan already
// ran; abs is its path, read again only for a credential file's name.
func (w *walker) checkShipped(rel, name, abs string, scan *keyScanner) {
	switch {
	case scan.found != "":
		w.warn(rel, "holds a private key ("+scan.found+")", true)
	case isEnvFile(name):
		w.warn(rel, "an environment file, which usually holds secrets", true)
	case keyByName(name) != "":
		w.warn(rel, keyByName(name), true)
	case strings.HasSuffix(strings.ToLower(name), ".pem") && !scan.pem:
		w.warn(rel, "a .pem file that holds no PEM block (a private key in another encoding?)", true)
	default:
		if what := credentialsIn(name, abs); what != "" {
			w.warn(rel, what, true)
		}
	}
}

// checkExcluded warns about a file that does not ship, by its name; only a
// .pem file or a credential file's name is read, to tell a private key
// from a certificate bundle, and a secret from harmless settings. abs
// was listed as a regular file.
func (w *walker) checkExcluded(rel, name, abs string) {
	switch {
	case isEnvFile(name):
		w.warn(rel, "an environment file, which usually holds secrets", false)
	case keyByName(name) != "":
		w.warn(rel, keyByName(name), false)
	case strings.HasSuffix(strings.ToLower(name), ".pem"):
		var scan keyScanner
		if fh, _, err := regular.OpenListed(abs); err == nil {
			io.Copy(&scan, io.LimitReader(fh, pemReadMax))
			fh.Close()
		}
		switch {
		case scan.found != "":
			w.warn(rel, "holds a private key ("+scan.found+")", false)
		case !scan.pem:
			w.warn(rel, "a .pem file that holds no PEM block (a private key in another encoding?)", false)
		}
	default:
		if what := credentialsIn(name, abs); what != "" {
			w.warn(rel, what, false)
		}
	}
}

// keyScanner is a writer that looks for a private key marker in what is
// written through it, across chunk boundaries.
type keyScanner struct {
	tail  []byte
	found string // the first marker seen
	pem   bool   // any "-----BEGIN " seen
}

func (s *keyScanner) Write(p []byte) (int, error) {
	if s.found != "" {
		return len(p), nil
	}
	// A marker lies within p, or starts in the tail of the previous chunk
	// and ends in the first markerMax bytes of p.
	edge := append(s.tail, p[:min(len(p), markerMax)]...)
	for _, b := range [][]byte{edge, p} {
		// The regexp runs only where a substring search, many times
		// faster, finds the words every marker holds.
		if bytes.Contains(b, privateKeyWord) {
			if m := privateKeyRE.Find(b); m != nil {
				s.found = string(m)
				return len(p), nil
			}
		}
		if !s.pem && bytes.Contains(b, []byte("-----BEGIN ")) {
			s.pem = true
		}
	}
	if len(p) >= markerMax {
		s.tail = append(s.tail[:0], p[len(p)-markerMax:]...)
	} else {
		s.tail = append(s.tail, p...)
		if len(s.tail) > markerMax {
			s.tail = s.tail[len(s.tail)-markerMax:]
		}
	}
	return len(p), nil
}
