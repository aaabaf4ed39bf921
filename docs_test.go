package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// The docs are checked like code: README.md and docs/ are what a newcomer
// and an operator read, so a link that leads nowhere, a config key the
// reference forgets, or a README command CI does not run fails the build
// that causes it. (docs/lambdapack.md's commands and flags are checked
// beside the CLI, in build/cmd/lambdapack.)

// markdownFiles are the documents whose links are checked.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md"}, files...)
}

// mdLink matches an inline Markdown link or image: [text](target).
var mdLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)\)`)

// mdHeading matches an ATX heading.
var mdHeading = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)

// prose returns the lines of a Markdown document outside fenced code
// blocks, with inline code spans removed, keyed by line number. Links in
// code are examples, not links.
func prose(data []byte) map[int]string {
	out := map[int]string{}
	fenced := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out[n] = line
		}
	}
	return out
}

// anchors returns the anchors GitHub gives a document's headings: the
// heading's text in lower case, inline code marks and punctuation other
// than '-' and '_' dropped, spaces as '-', and "-1", "-2"... after a
// repeated one.
func anchors(data []byte) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	lines := prose(data)
	for n := 1; n <= len(bytes.Split(data, []byte("\n"))); n++ {
		line, ok := lines[n]
		if !ok {
			continue
		}
		m := mdHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := githubSlug(m[2])
		if k := seen[slug]; k > 0 {
			out[fmt.Sprintf("%s-%d", slug, k)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// githubSlug is the anchor GitHub makes of a heading's text.
func githubSlug(heading string) string {
	// A link in a heading anchors on its text.
	heading = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestGithubSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Deploying", "deploying"},
		{"`--upload s3://BUCKET/KEY`", "--upload-s3bucketkey"},
		{"4. Two roles: one that can only read, one that deploys", "4-two-roles-one-that-can-only-read-one-that-deploys"},
		{"The function (app/)", "the-function-app"},
		{"The layer's lifecycle: publish, keep, share, consume, delete", "the-layers-lifecycle-publish-keep-share-consume-delete"},
		{"snake_case and `code`", "snake_case-and-code"},
	} {
		if got := githubSlug(tc.heading); got != tc.want {
			t.Errorf("githubSlug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

// Every relative link in README.md and docs/ names a file that exists, and
// every #anchor a heading of the file it points into.
func TestDocsLinksResolve(t *testing.T) {
	cache := map[string]map[string]bool{}
	headingsOf := func(file string) (map[string]bool, error) {
		if a, ok := cache[file]; ok {
			return a, nil
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		cache[file] = anchors(data)
		return cache[file], nil
	}
	links := 0
	for _, file := range markdownFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := prose(data)
		for n := 1; n <= len(bytes.Split(data, []byte("\n"))); n++ {
			line, ok := lines[n]
			if !ok {
				continue
			}
			line = regexp.MustCompile("`[^`]*`").ReplaceAllString(line, "")
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				u, err := url.Parse(target)
				if err != nil {
					t.Errorf("%s:%d: link %q does not parse: %v", file, n, target, err)
					continue
				}
				if u.Scheme != "" || strings.HasPrefix(target, "//") {
					continue // http(s), mailto: not checked here (no network)
				}
				links++
				dest := file
				if u.Path != "" {
					dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(u.Path))
					if _, err := os.Stat(dest); err != nil {
						t.Errorf("%s:%d: link %q: %s does not exist", file, n, target, dest)
						continue
					}
				}
				if u.Fragment == "" {
					continue
				}
				if !strings.HasSuffix(dest, ".md") {
					t.Errorf("%s:%d: link %q: an anchor into %s, which is not Markdown", file, n, target, dest)
					continue
				}
				heads, err := headingsOf(dest)
				if err != nil {
					t.Errorf("%s:%d: link %q: %v", file, n, target, err)
					continue
				}
				if !heads[u.Fragment] {
					t.Errorf("%s:%d: link %q: %s has no heading with anchor #%s", file, n, target, dest, u.Fragment)
				}
			}
		}
	}
	if links < 20 {
		t.Errorf("found only %d relative links in README.md and docs/: is the link pattern still right?", links)
	}
}

// configRow matches a row of docs/configuration.md's key table:
// | key | `default` | example | description |
var configRow = regexp.MustCompile("^\\| *([a-zA-Z][a-zA-Z0-9]*) *\\| *`([^`]*)` *\\| *(.*?) *\\| *(.*?) *\\|$")

// Every key Pulumi.yaml declares is in docs/configuration.md's table, with
// Pulumi.yaml's default and an example, and the table documents no key
// Pulumi.yaml lacks.
func TestConfigurationDocumentsEveryKey(t *testing.T) {
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		line             int
		def, example     string
		description, raw string
	}
	documented := map[string]row{}
	for n, line := range strings.Split(string(data), "\n") {
		m := configRow.FindStringSubmatch(line)
		if m == nil || m[1] == "key" {
			continue
		}
		if prev, dup := documented[m[1]]; dup {
			t.Errorf("docs/configuration.md:%d: %s is documented twice (first on line %d)", n+1, m[1], prev.line)
		}
		documented[m[1]] = row{line: n + 1, def: m[2], example: m[3], description: m[4], raw: line}
	}
	for key, ct := range proj.Config {
		r, ok := documented[key]
		if !ok {
			t.Errorf("docs/configuration.md does not document %s (declared in Pulumi.yaml)", key)
			continue
		}
		delete(documented, key)
		if want := docDefault(ct.Default); r.def != want {
			t.Errorf("docs/configuration.md:%d: %s's default is `%s`, Pulumi.yaml's is `%s`", r.line, key, r.def, want)
		}
		if strings.Trim(r.example, " -") == "" {
			t.Errorf("docs/configuration.md:%d: %s has no example", r.line, key)
		}
		if r.description == "" {
			t.Errorf("docs/configuration.md:%d: %s has no description", r.line, key)
		}
	}
	for key, r := range documented {
		t.Errorf("docs/configuration.md:%d: %s is documented but Pulumi.yaml does not declare it", r.line, key)
	}
}

// docDefault writes a Pulumi.yaml default as docs/configuration.md shows
// it: strings as they are ("" for the empty one), lists as [a, b].
func docDefault(v any) string {
	switch v := v.(type) {
	case nil:
		return `""`
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []any:
		items := make([]string, len(v))
		for i, x := range v {
			items[i] = docDefault(x)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case map[string]any:
		if len(v) == 0 {
			return "{}"
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	return fmt.Sprint(v)
}

// readmeCommand returns the command README.md's table of the two commands
// gives for what.
func readmeCommand(t *testing.T, what string) string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^\\| *" + regexp.QuoteMeta(what) + " *\\| *`([^`]+)` *\\|").FindSubmatch(data)
	if m == nil {
		t.Fatalf("README.md has no \"| %s | `COMMAND` |\" row", what)
	}
	return string(m[1])
}

// README's two commands lead it, and they are what CI runs: `.ci/run`
// runs the test command as one of its own lines, and the deploy workflow
// runs `pulumi up` on the stack the deploy command selects.
func TestReadmeCommandsAreWhatCIRuns(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(data, []byte("\n")); lines > 300 {
		t.Errorf("README.md has %d lines; the front door stays at 300 at most (the reference lives in docs/)", lines)
	}
	if i := bytes.Index(data, []byte("## The two commands")); i < 0 || bytes.Count(data[:i], []byte("\n")) > 40 {
		t.Errorf("README.md's \"## The two commands\" should be near the top (within 40 lines)")
	}

	test := readmeCommand(t, "run every test")
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	var run []string
	for _, line := range strings.Split(string(ci), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			run = append(run, line)
		}
	}
	if !slices.Contains(run, test) {
		t.Errorf("README's test command %q is not a line .ci/run runs", test)
	}

	deploy := readmeCommand(t, "deploy")
	m := regexp.MustCompile(`^pulumi stack select (\S+) && pulumi up$`).FindStringSubmatch(deploy)
	if m == nil {
		t.Fatalf("README's deploy command %q is not `pulumi stack select STACK && pulumi up`", deploy)
	}
	w := loadWorkflow(t, deployWorkflow)
	j, i := w.pulumiStep(t)
	if cmd, _ := input(j.Steps[i], "command"); cmd != "up" {
		t.Errorf("the deploy workflow's Pulumi step runs %q, README's deploy command runs up", cmd)
	}
	if stack, _ := input(j.Steps[i], "stack-name"); stack != m[1] {
		t.Errorf("the deploy workflow deploys stack %q, README's deploy command selects %q", stack, m[1])
	}
}
