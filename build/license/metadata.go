// Package license reads what a Python distribution declares about its
// license (its METADATA: PEP 639 License-Expression, the License field,
// the Trove license classifiers, License-File) and says it as SPDX:
// one package's declared expression, the AND of a whole artifact's, and
// the concerns a person sharing the artifact should know of (copyleft
// texts beyond what is declared, bundled-licenses files, vendored
// libraries).
//
// Nothing is guessed: a declaration that is not SPDX, or classifiers that
// do not name one SPDX license, are kept as license names.
package license

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// MaxMetadata bounds the METADATA read: real ones are a few kB of headers
// and a description of at most a few hundred kB.
const MaxMetadata = 16 << 20

// Metadata is the part of a core metadata file (PEP 566, PEP 639) that
// bears on licensing.
type Metadata struct {
	MetadataVersion string
	Name            string
	Version         string
	// LicenseExpression is the PEP 639 License-Expression, as written.
	LicenseExpression string
	// License is the older free-text License field, unfolded; "" when
	// absent or "UNKNOWN" (what old setuptools wrote for none).
	License string
	// Classifiers are the Trove classifiers under "License ::".
	Classifiers []string
	// LicenseFiles are the License-File values, as written (PEP 639:
	// paths under .dist-info/licenses/; older tools: under .dist-info/).
	LicenseFiles []string
}

// ParseMetadata reads the headers of a METADATA file (RFC 822 style: a
// header per line, continuation lines indented, the body after the first
// blank line). file names it in errors.
func ParseMetadata(file string, data []byte) (*Metadata, error) {
	if len(data) > MaxMetadata {
		return nil, fmt.Errorf("%s: %d bytes, over %d: not a METADATA file", file, len(data), MaxMetadata)
	}
	m := &Metadata{}
	var name string
	var value []string
	flush := func() {
		if name == "" {
			return
		}
		m.set(name, value)
		name, value = "", nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxMetadata)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" {
			break // the body (the long description) follows
		}
		if text[0] == ' ' || text[0] == '\t' {
			if name == "" {
				return nil, fmt.Errorf("%s line %d: a continuation line with no header before it", file, line)
			}
			value = append(value, text)
			continue
		}
		flush()
		k, v, ok := strings.Cut(text, ":")
		if !ok {
			return nil, fmt.Errorf("%s line %d: %s is not a \"Name: value\" header", file, line, clip.Quote(text))
		}
		name, value = strings.ToLower(strings.TrimSpace(k)), []string{strings.TrimSpace(v)}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	flush()
	if m.Name == "" || m.Version == "" {
		return nil, fmt.Errorf("%s: no Name or Version header: not a METADATA file", file)
	}
	return m, nil
}

// set records one header with its continuation lines.
func (m *Metadata) set(name string, lines []string) {
	first := lines[0]
	switch name {
	case "metadata-version":
		m.MetadataVersion = first
	case "name":
		m.Name = first
	case "version":
		m.Version = first
	case "license-expression":
		m.LicenseExpression = strings.TrimSpace(strings.Join(lines, " "))
	case "license":
		text := unfold(lines)
		if !strings.EqualFold(text, "UNKNOWN") {
			m.License = text
		}
	case "classifier":
		if strings.HasPrefix(first, "License ::") {
			m.Classifiers = append(m.Classifiers, first)
		}
	case "license-file":
		if first != "" {
			m.LicenseFiles = append(m.LicenseFiles, first)
		}
	}
}

// unfold joins a folded header's lines. Tools fold a long License text
// with an indent, and setuptools also with "|" after it (to keep blank
// lines), so both are taken off.
func unfold(lines []string) string {
	out := []string{strings.TrimSpace(lines[0])}
	for _, l := range lines[1:] {
		l = strings.TrimLeft(l, " \t")
		if rest, ok := strings.CutPrefix(l, "|"); ok {
			l = rest
		}
		out = append(out, strings.TrimRight(l, " \t"))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
