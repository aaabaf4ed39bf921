package main

import (
	"fmt"
	"os"
	"os/user"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// inputsByResource maps "type::name" to the resource's inputs, for
// comparing two runs.
func inputsByResource(m *mocks) map[string]resource.PropertyMap {
	out := map[string]resource.PropertyMap{}
	for _, r := range m.resources {
		out[r.Type+"::"+r.Name] = r.Inputs
	}
	return out
}

// changedInputs lists "type::name input" for every input that differs
// between two runs, including resources present in only one.
func changedInputs(a, b map[string]resource.PropertyMap) []string {
	var out []string
	for res, ai := range a {
		bi, ok := b[res]
		if !ok {
			out = append(out, res+" (removed)")
			continue
		}
		for k, av := range ai {
			if bv, ok := bi[k]; !ok || !av.DeepEquals(bv) {
				out = append(out, res+" "+string(k))
			}
		}
		for k := range bi {
			if _, ok := ai[k]; !ok {
				out = append(out, res+" "+string(k))
			}
		}
	}
	for res := range b {
		if _, ok := a[res]; !ok {
			out = append(out, res+" (added)")
		}
	}
	slices.Sort(out)
	return out
}

// bumpNumpy changes numpy's version and its first hash, the smallest real
// change to the wheel set.
func bumpNumpy(t *testing.T, text string) string {
	t.Helper()
	i := strings.Index(text, "numpy==2.1.3")
	if i < 0 {
		t.Fatal("locks/image-processing.txt does not pin numpy==2.1.3")
	}
	text = text[:i] + "numpy==2.1.4" + text[i+len("numpy==2.1.3"):]
	h := strings.Index(text[i:], "--hash=sha256:") + i + len("--hash=sha256:")
	return text[:h] + strings.Repeat("0", 64) + text[h+64:]
}

// bumpPin replaces the pin from with to and the first hash after it, a
// new release of one package.
func bumpPin(t *testing.T, text, from, to string) string {
	t.Helper()
	i := strings.Index(text, from)
	if i < 0 {
		t.Fatalf("the lock does not pin %s", from)
	}
	text = text[:i] + to + text[i+len(from):]
	h := strings.Index(text[i:], "--hash=sha256:") + i + len("--hash=sha256:")
	return text[:h] + strings.Repeat("1", 64) + text[h+64:]
}

// reshuffle rewrites a lock without changing what it installs: the
// requirements in reverse order, the comments replaced, the hashes of each
// in reverse order and on one line, names in another spelling.
func reshuffle(t *testing.T, text string) string {
	t.Helper()
	var blocks [][]string // each: requirement line, then hash lines
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), `\`))
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "--hash="):
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], line)
		default:
			blocks = append(blocks, []string{line})
		}
	}
	if len(blocks) < 2 {
		t.Fatalf("lock has %d requirements, want several to reorder", len(blocks))
	}
	var b strings.Builder
	b.WriteString("# reordered by hand\n\n")
	for i := len(blocks) - 1; i >= 0; i-- {
		req := strings.Replace(blocks[i][0], "pillow", "Pillow", 1)
		hashes := slices.Clone(blocks[i][1:])
		slices.Reverse(hashes)
		fmt.Fprintf(&b, "%s    %s   # pinned\n# another comment\n", req, strings.Join(hashes, " "))
	}
	return b.String()
}

func TestChangeDetection(t *testing.T) {
	data, err := os.ReadFile("locks/image-processing.txt")
	if err != nil {
		t.Fatal(err)
	}
	cfg := stackConfig(t, "prod")
	base := mustRun(t, run{config: cfg, root: copyProject(t, string(data))})
	baseInputs := inputsByResource(base)
	fnLock, err := os.ReadFile("locks/function.txt")
	if err != nil {
		t.Fatal(err)
	}
	api, err := os.ReadFile("app/api.py")
	if err != nil {
		t.Fatal(err)
	}
	const name = "galerly-image-processing"
	layerRes := typeLayerVer + "::" + name
	buildRes := typeCommand + "::" + name + "-build"
	// What a new code key changes: the function's build step (its trigger
	// and the key in --out and --upload), the function's S3 key, and the
	// smoke test's trigger.
	codeChanged := []string{
		typeCommand + "::" + apiName + "-build create",
		typeCommand + "::" + apiName + "-build triggers",
		typeFunction + "::" + apiName + " s3Key",
		typeInvoke + "::" + apiName + "-smoke-test triggers",
	}
	slices.Sort(codeChanged)
	codeKeyOf := func(m *mocks) string {
		return strList(t, m.find(t, typeCommand, apiName+"-build"), "triggers")[0]
	}

	t.Run("one version and hash changed", func(t *testing.T) {
		m := mustRun(t, run{config: cfg, root: copyProject(t, bumpNumpy(t, string(data)))})
		want := []string{
			buildRes + " create", // names the new key in --out and --upload
			buildRes + " triggers",
			layerRes + " description",
			layerRes + " s3Key",
		}
		slices.Sort(want)
		if got := changedInputs(baseInputs, inputsByResource(m)); !slices.Equal(got, want) {
			t.Errorf("changed inputs:\n got %v\nwant %v", got, want)
		}
		oldTriggers := strList(t, base.find(t, typeCommand, name+"-build"), "triggers")
		newTriggers := strList(t, m.find(t, typeCommand, name+"-build"), "triggers")
		if len(oldTriggers) != len(newTriggers) {
			t.Fatalf("triggers %v -> %v: want one entry per package either way", oldTriggers, newTriggers)
		}
		var diff []string
		for i := range oldTriggers {
			if oldTriggers[i] != newTriggers[i] {
				diff = append(diff, oldTriggers[i]+" -> "+newTriggers[i])
			}
		}
		// The preview shows the key and the one package that changed.
		if len(diff) != 2 || !strings.HasSuffix(diff[1], "numpy==2.1.3 -> numpy==2.1.4") {
			t.Errorf("trigger changes = %v, want the key and numpy==2.1.3 -> numpy==2.1.4", diff)
		}
		oldKey := strValue(t, base.find(t, typeLayerVer, name), "s3Key")
		newKey := strValue(t, m.find(t, typeLayerVer, name), "s3Key")
		if !strings.Contains(newKey, newTriggers[0]) || oldKey == newKey {
			t.Errorf("s3Key %s -> %s, want the new key %s", oldKey, newKey, newTriggers[0])
		}
		if desc := strValue(t, m.find(t, typeLayerVer, name), "description"); !strings.Contains(desc, "numpy==2.1.4") {
			t.Errorf("description %q does not name numpy==2.1.4", desc)
		}
		if codeKeyOf(m) != codeKeyOf(base) {
			t.Errorf("the layer's lock changed the function's code key %s -> %s", codeKeyOf(base), codeKeyOf(m))
		}
	})

	for _, tc := range []struct {
		name    string
		replace map[string]string
	}{
		{"one app file changed", map[string]string{"app/api.py": string(api) + "\n# one more line\n"}},
		{"one function dependency changed", map[string]string{"locks/function.txt": bumpPin(t, string(fnLock), "stripe==11.6.0", "stripe==11.6.1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustRun(t, run{config: cfg, root: copyProjectWith(t, tc.replace)})
			if got := changedInputs(baseInputs, inputsByResource(m)); !slices.Equal(got, codeChanged) {
				t.Errorf("changed inputs:\n got %v\nwant %v (and nothing of the layer)", got, codeChanged)
			}
			if codeKeyOf(m) == codeKeyOf(base) {
				t.Errorf("the code key did not change")
			}
			fn := m.find(t, typeFunction, apiName)
			if got := strValue(t, fn, "s3Key"); !strings.Contains(got, codeKeyOf(m)) {
				t.Errorf("s3Key %s does not name the new code key %s", got, codeKeyOf(m))
			}
		})
	}

	t.Run("comments, order and spelling changed", func(t *testing.T) {
		m := mustRun(t, run{config: cfg, root: copyProjectWith(t, map[string]string{
			"locks/image-processing.txt": reshuffle(t, string(data)),
			"locks/function.txt":         reshuffle(t, string(fnLock)),
		})})
		if got := changedInputs(baseInputs, inputsByResource(m)); len(got) > 0 {
			t.Errorf("rewritten but equal locks changed %v, want nothing", got)
		}
	})

	t.Run("shipped lock from another folder", func(t *testing.T) {
		m := mustRun(t, run{config: cfg})
		if got := changedInputs(baseInputs, inputsByResource(m)); len(got) > 0 {
			t.Errorf("the same lock in another project folder changed %v, want nothing", got)
		}
	})
}

// machineFacts are strings that would make one machine's preview differ
// from another's.
type machineFacts struct {
	paths  []string // absolute folders this run knows of
	tokens []string // user and host names, compared as whole words
}

func currentMachine(t *testing.T, roots ...string) machineFacts {
	t.Helper()
	f := machineFacts{paths: roots}
	if wd, err := os.Getwd(); err == nil {
		f.paths = append(f.paths, wd)
	}
	if home, err := os.UserHomeDir(); err == nil {
		f.paths = append(f.paths, home)
	}
	f.paths = append(f.paths, os.TempDir())
	slices.Sort(f.paths)
	f.paths = slices.Compact(f.paths)
	if u, err := user.Current(); err == nil {
		f.tokens = append(f.tokens, u.Username)
	}
	if h, err := os.Hostname(); err == nil {
		f.tokens = append(f.tokens, h, strings.Split(h, ".")[0])
	}
	for _, v := range []string{"USER", "LOGNAME"} {
		if s := os.Getenv(v); s != "" {
			f.tokens = append(f.tokens, s)
		}
	}
	return f
}

var (
	// An absolute path as a word of its own: at the start or after a
	// space, '=', quote or ':' (but not the "//" of a URL).
	absPath  = regexp.MustCompile(`(^|[\s='":])/[^/\s]|^[A-Za-z]:[\\/]`)
	dateLike = regexp.MustCompile(`\b(19|20)\d\d-[01]\d-[0-3]\d|\b\d\d:\d\d:\d\d\b`)
	wordSep  = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// problems says what in s is machine-specific.
func (f machineFacts) problems(s string) []string {
	var out []string
	if absPath.MatchString(s) {
		out = append(out, "an absolute path")
	}
	for _, p := range f.paths {
		if p != "" && p != "/" && strings.Contains(s, p) {
			out = append(out, "the folder "+p)
		}
	}
	words := wordSep.Split(s, -1)
	for _, tok := range f.tokens {
		if tok != "" && slices.ContainsFunc(words, func(w string) bool { return strings.EqualFold(w, tok) }) {
			out = append(out, "the user or host name "+tok)
		}
	}
	if dateLike.MatchString(s) {
		out = append(out, "a date or time")
	}
	// A Unix time within a few years of now, in seconds or milliseconds.
	now := time.Now()
	for _, w := range words {
		n, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			continue
		}
		for _, unit := range []time.Duration{time.Second, time.Millisecond} {
			at := time.Unix(0, n*int64(unit))
			if at.After(now.AddDate(-5, 0, 0)) && at.Before(now.AddDate(5, 0, 0)) {
				out = append(out, "a Unix time")
			}
		}
	}
	return out
}

// walk calls fn with the path and text of every string in v.
func walk(path string, v resource.PropertyValue, fn func(path, s string)) {
	switch {
	case v.IsString():
		fn(path, v.StringValue())
	case v.IsArray():
		for i, e := range v.ArrayValue() {
			walk(fmt.Sprintf("%s[%d]", path, i), e, fn)
		}
	case v.IsObject():
		for k, e := range v.ObjectValue() {
			walk(path+"."+string(k), e, fn)
		}
	case v.IsSecret():
		walk(path, v.SecretValue().Element, fn)
	case v.IsOutput():
		walk(path, v.OutputValue().Element, fn)
	case v.IsAsset():
		a := v.AssetValue()
		fn(path+".path", a.Path)
		fn(path+".uri", a.URI)
	case v.IsArchive():
		a := v.ArchiveValue()
		fn(path+".path", a.Path)
		fn(path+".uri", a.URI)
	}
}

// No input of any resource the program registers depends on the machine,
// the folder, the user or the clock, even though the CLI hands the program
// an absolute project folder.
func TestNoMachineSpecificInputs(t *testing.T) {
	root := projectRoot(t)
	facts := currentMachine(t, root)
	full := stackConfig(t, "prod")
	full[project+":extraFunctions"] = `[{"name":"galerly-thumbs-prod","handler":"api.handler","memorySize":2048}]`
	full[project+":extraLayerArns"] = `["` + otherLayerArn + `"]`
	full[project+":functionPolicyArns"] = `["` + s3ReadOnly + `"]`
	full[project+":layerShareAccounts"] = `["111122223333","*"]`
	full[project+":layerShareOrganization"] = "o-a1b2c3d4e5"
	full[project+":bytecode"] = "false"
	full[project+":photosBucket"] = "galerly-photos-prod"
	full[project+":functionRuntime"] = "python3.12"
	full[project+":snapStart"] = "true"
	for name, cfg := range map[string]map[string]string{"prod": stackConfig(t, "prod"), "with every option": full} {
		t.Run(name, func(t *testing.T) { checkNoMachineSpecificInputs(t, facts, cfg, root) })
	}
}

func checkNoMachineSpecificInputs(t *testing.T, facts machineFacts, cfg map[string]string, root string) {
	m := mustRun(t, run{config: cfg, root: root})
	seen := 0
	for _, r := range m.resources {
		for k, v := range r.Inputs {
			walk(string(k), v, func(path, s string) {
				seen++
				s = withoutAWSConstants(r.Type, path, s)
				if p := facts.problems(s); len(p) > 0 {
					t.Errorf("%s::%s input %s = %q holds %s", r.Type, r.Name, path, s, strings.Join(p, ", "))
				}
			})
		}
	}
	if seen < 20 {
		t.Fatalf("walked only %d input strings; the walk is broken", seen)
	}
}

// withoutAWSConstants removes from an input the fixed strings of AWS's own
// formats that look like what the check looks for but are the same on
// every machine: the IAM policy language version (a date) in a trust or
// role policy, the /aws/lambda/ prefix of a function's log group (a
// path), and the saved Logs Insights queries, the program's constants
// (their patterns read dates and hold slashes).
func withoutAWSConstants(typ, path, s string) string {
	switch {
	case (typ == typeRole && path == "assumeRolePolicy") || (typ == typeRolePol && path == "policy"):
		return strings.ReplaceAll(s, `"Version":"2012-10-17"`, "")
	case (typ == typeLogGroup && path == "name") || (typ == typeQuery && path == "logGroupNames[0]"):
		return strings.TrimPrefix(s, "/aws/lambda/")
	case typ == typeQuery && path == "queryString" && (s == coldStartQuery || s == restoreQuery):
		return ""
	}
	return s
}

// The checker itself catches what it is there to catch.
func TestMachineFactsCatch(t *testing.T) {
	facts := machineFacts{paths: []string{"/work/main"}, tokens: []string{"alice", "build-host"}}
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"go run ./build/cmd/lambdapack --lock locks/x.txt --upload s3://b/layers/k.zip", false},
		{"arn:aws:lambda:us-east-1:123456789012:layer:x:1", false},
		{"--lock /work/main/locks/x.txt", true},
		{"--out /tmp/x.zip", true},
		{"C:\\Users\\x", true},
		{"owner=alice", true},
		{"built on build-host", true},
		{"galerly-image-processing", false},
		{"built 2026-08-01", true},
		{"at 12:30:00", true},
		{strconv.FormatInt(time.Now().Unix(), 10), true},
		{"numpy==2.1.3", false},
	} {
		if got := len(facts.problems(tc.s)) > 0; got != tc.want {
			t.Errorf("problems(%q) = %v, want found=%v", tc.s, facts.problems(tc.s), tc.want)
		}
	}
}

func TestLayerDescription(t *testing.T) {
	key := strings.Repeat("0123456789abcdef", 4)
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("package-with-a-long-name-%02d==1.%d.0", i, i)
	}
	for _, tc := range []struct {
		name string
		pins []string
		want string // a prefix; "" checks only the rules
	}{
		{"prod pins fit", []string{"numpy==2.1.3", "pillow==11.0.0"}, "numpy==2.1.3 pillow==11.0.0 (key 0123456789ab)"},
		{"no pins", nil, " (key 0123456789ab)"},
		{"too many pins", many, ""},
		{"one huge pin", []string{strings.Repeat("x", 300) + "==1.0"}, "+1 more (key 0123456789ab)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := layerDescription(tc.pins, key)
			if len(d) > maxDescription {
				t.Fatalf("%d characters, want at most %d: %q", len(d), maxDescription, d)
			}
			if tc.want != "" && d != tc.want {
				t.Errorf("= %q, want %q", d, tc.want)
			}
			// Every pin is either named whole or counted as left out.
			words := strings.Fields(d)
			named := 0
			for _, p := range tc.pins {
				if slices.Contains(words, p) {
					named++
				}
			}
			if left := len(tc.pins) - named; left > 0 && !strings.Contains(d, fmt.Sprintf("+%d more", left)) {
				t.Errorf("%q names %d of %d pins without saying %d more", d, named, len(tc.pins), left)
			}
			if !strings.HasSuffix(d, "(key 0123456789ab)") {
				t.Errorf("%q does not end with the key", d)
			}
		})
	}
}
