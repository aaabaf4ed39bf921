package lock

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/galerly/galerly-lambda/build/internal/clip"
	"github.com/galerly/galerly-lambda/build/internal/pep440"
	"github.com/galerly/galerly-lambda/build/internal/pyname"
	"github.com/galerly/galerly-lambda/build/target"
)

// Marker is a parsed PEP 508 environment marker, such as
// `python_version < "3.12" and platform_machine == "x86_64"`.
//
// It is evaluated for a Lambda runtime and architecture, where the
// environment is known in advance: sys_platform "linux", platform_system
// "Linux", os_name "posix", implementation_name "cpython",
// platform_python_implementation "CPython", python_version "3.X",
// platform_machine x86_64 or aarch64, and no extra.
//
// python_full_version (and implementation_version) cannot be known
// exactly: Lambda moves a runtime to new patch releases on its own
// schedule, and a key is computed with no interpreter. A comparison with
// them is decided when it gives one answer for every final 3.X.N release
// (python_full_version < "3.13" and >= "3.12" are true on python3.12,
// == "3.12.*" too); one whose answer depends on N
// (python_full_version < "3.12.4" on python3.12) is undecided, and Eval
// refuses a marker whose value it leaves open ("and" with a false side,
// "or" with a true side, still decide it). Because of that they may only
// be compared as versions, never as strings.
//
// Markers whose value depends on the host kernel (platform_release,
// platform_version) and unknown variables are refused when parsing, so
// Eval always has an answer.
//
// In a pylock.toml (PEP 751) a marker may also test the set-valued
// variables extras and dependency_groups ("dev" in dependency_groups);
// such a marker carries the sets it is evaluated with, which the lock's
// Selection decides.
type Marker struct {
	root expr
	sets *markerSets // extras and dependency_groups; nil means both empty
}

// markerSets are the values of PEP 751's set-valued marker variables,
// keyed by normalized name.
type markerSets struct {
	extras, groups map[string]bool
}

// ParseMarker parses the text of an environment marker (what follows ';'
// in a requirement).
func ParseMarker(s string) (*Marker, error) { return parseMarker(s, false) }

// parseMarker parses a marker; pylock allows PEP 751's extras and
// dependency_groups variables, which mean nothing outside a pylock.toml.
func parseMarker(s string, pylock bool) (*Marker, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &markerParser{toks: toks, pylock: pylock}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("unexpected %s at offset %d", clip.Quote(t.text), t.pos)
	}
	return &Marker{root: root}, nil
}

// Eval reports whether the marker is true on Lambda runtime r on
// architecture a. A nil marker is always true: a requirement without a
// marker applies everywhere. It fails when the marker's value depends on
// r's patch release, naming the comparison that leaves it open and how to
// lock without it; callers add the file and line.
func (m *Marker) Eval(r target.Runtime, a target.Arch) (bool, error) {
	if m == nil {
		return true, nil
	}
	t := m.root.eval(env{minor: r.Minor, machine: a.Machine(), sets: m.sets})
	if t.open != nil {
		var b strings.Builder
		t.open.format(&b, false)
		return false, fmt.Errorf("%s is true on some %s patch releases and false on others; Lambda moves %s to new patch releases on its own schedule and the key is computed with no interpreter, so lambdapack does not guess: lock with a floor at or above the release named (uv pip compile --universal --python-version 3.%d.N), so no line depends on a %s patch release, or build for other runtimes",
			b.String(), r, r, r.Minor, r)
	}
	return t.val, nil
}

// withSets returns a copy of m evaluated with sets; nil stays nil.
func (m *Marker) withSets(sets *markerSets) *Marker {
	if m == nil {
		return nil
	}
	return &Marker{root: m.root, sets: sets}
}

// String returns the marker in a canonical spelling: single spaces,
// double quotes, parentheses only where they are needed.
func (m *Marker) String() string {
	if m == nil {
		return ""
	}
	var b strings.Builder
	m.root.format(&b, false)
	return b.String()
}

// env is the Lambda execution environment a marker is evaluated in.
type env struct {
	minor   int
	machine string
	sets    *markerSets // nil: no extras, no dependency groups
}

// truth is a marker's value in an environment. open is the comparison
// that leaves it undecided, nil when val is the answer.
type truth struct {
	val  bool
	open *cmpExpr
}

// decided is a known truth value.
func decided(v bool) truth { return truth{val: v} }

type expr interface {
	eval(e env) truth
	// format writes the expression; inAnd says it is an operand of "and",
	// where an "or" needs parentheses.
	format(b *strings.Builder, inAnd bool)
}

type boolExpr struct {
	and  bool
	l, r expr
}

// eval combines the two sides in Kleene's three-valued logic: a side
// that decides the result ("and" false, "or" true) decides it even when
// the other is open.
func (x *boolExpr) eval(e env) truth {
	l, r := x.l.eval(e), x.r.eval(e)
	decisive := !x.and // the value that decides: false for and, true for or
	switch {
	case l.open == nil && l.val == decisive, r.open == nil && r.val == decisive:
		return decided(decisive)
	case l.open != nil:
		return l
	case r.open != nil:
		return r
	}
	return decided(!decisive)
}

func (x *boolExpr) format(b *strings.Builder, inAnd bool) {
	paren := inAnd && !x.and
	if paren {
		b.WriteByte('(')
	}
	x.l.format(b, x.and)
	if x.and {
		b.WriteString(" and ")
	} else {
		b.WriteString(" or ")
	}
	x.r.format(b, x.and)
	if paren {
		b.WriteByte(')')
	}
}

// operand is a marker variable (name set) or a string literal.
type operand struct {
	name string
	lit  string
	ver  *pep440.Version // the literal as a version, when the comparison is one
}

type cmpExpr struct {
	l, r    operand
	op      string
	version bool // compare as PEP 440 versions rather than strings
	// prefix says the right literal is a release prefix (== "3.12.*"),
	// matched rather than compared.
	prefix bool
	// member says the comparison is "NAME" in (or not in) a set variable,
	// extras or dependency_groups.
	member bool
}

func (x *cmpExpr) format(b *strings.Builder, _ bool) {
	for i, o := range []operand{x.l, x.r} {
		if i == 1 {
			b.WriteString(" " + x.op + " ")
		}
		switch {
		case o.name != "":
			b.WriteString(o.name)
		case strings.Contains(o.lit, `"`):
			b.WriteString("'" + o.lit + "'")
		default:
			b.WriteString(`"` + o.lit + `"`)
		}
	}
}

func (x *cmpExpr) eval(e env) truth {
	if x.member {
		in := e.sets.has(x.r.name, x.l.lit)
		return decided(in == (x.op == "in"))
	}
	if x.version {
		return x.evalVersions(e)
	}
	l, r := x.l.stringIn(e), x.r.stringIn(e)
	switch x.op {
	case "==", "===":
		return decided(l == r)
	case "!=":
		return decided(l != r)
	case "<":
		return decided(l < r)
	case "<=":
		return decided(l <= r)
	case ">":
		return decided(l > r)
	case ">=":
		return decided(l >= r)
	case "in":
		return decided(strings.Contains(r, l))
	case "not in":
		return decided(!strings.Contains(r, l))
	}
	return decided(false) // unreachable: newCmp accepts only the operators above
}

// evalVersions compares as versions. With python_full_version or
// implementation_version on either side, the comparison is made for each
// patch release of the runtime where its answer can change (patches), and
// is decided only when they all agree.
func (x *cmpExpr) evalVersions(e env) truth {
	patched := isPatchVar(x.l.name) || isPatchVar(x.r.name)
	if !patched {
		return decided(x.compareVersions(x.l.versionIn(e, envVersion{}), x.r.versionIn(e, envVersion{})))
	}
	var lit *pep440.Version
	if x.l.ver != nil {
		lit = x.l.ver
	} else if x.r.ver != nil {
		lit = x.r.ver
	}
	first := true
	var answer bool
	for _, p := range patches(e.minor, lit) {
		got := x.compareVersions(x.l.versionIn(e, p), x.r.versionIn(e, p))
		if !first && got != answer {
			return truth{open: x}
		}
		first, answer = false, got
	}
	return decided(answer)
}

func isPatchVar(name string) bool {
	return name == "python_full_version" || name == "implementation_version"
}

// patches returns the releases of 3.minor a comparison with lit needs
// checking at: its answer is the same for every final 3.minor.N except
// where N meets lit's own third number, so 3.minor.0, lit's N-1, N and
// N+1, and the newest release stand for all of them. Lambda runs final
// releases only.
func patches(minor int, lit *pep440.Version) []envVersion {
	release := func(n string) envVersion {
		v, _ := pep440.Parse(fmt.Sprintf("3.%d.%s", minor, n)) // digits always parse
		return envVersion{v: v}
	}
	ns := []string{"0", "1"}
	if runtime, _ := pep440.ParsePrefix(fmt.Sprintf("3.%d.*", minor)); lit != nil && lit.HasPrefix(runtime) {
		n, _ := new(big.Int).SetString(lit.ReleaseAt(2), 10) // decimal digits, from the parser
		for _, d := range []int64{-1, 0, 1} {
			if m := new(big.Int).Add(n, big.NewInt(d)); m.Sign() >= 0 {
				ns = append(ns, m.String())
			}
		}
	}
	out := make([]envVersion, 0, len(ns)+1)
	for _, n := range ns {
		out = append(out, release(n))
	}
	newest, _ := pep440.Parse(fmt.Sprintf("3.%d", minor))
	return append(out, envVersion{v: newest, latest: true})
}

// envVersion is a version operand's value on a runtime.
type envVersion struct {
	v pep440.Version
	// latest marks the newest release starting with v: it is above every
	// version whose release starts the same way. It stands for the patch
	// releases of a runtime past any a marker names.
	latest bool
}

// versionIn returns the operand's value as a version in e, where the
// runtime's full version is patch.
func (o operand) versionIn(e env, patch envVersion) envVersion {
	switch {
	case o.name == "":
		return envVersion{v: *o.ver}
	case isPatchVar(o.name):
		return patch
	}
	// python_version: "3.N" always parses; the error cannot happen.
	v, _ := pep440.Parse(fmt.Sprintf("3.%d", e.minor))
	return envVersion{v: v}
}

// compareVersions applies the comparison to two versions.
func (x *cmpExpr) compareVersions(l, r envVersion) bool {
	switch x.op {
	case "==":
		if x.prefix {
			return hasPrefix(l, r.v)
		}
		return compareEnv(l, r) == 0
	case "!=":
		if x.prefix {
			return !hasPrefix(l, r.v)
		}
		return compareEnv(l, r) != 0
	case "<":
		return compareEnv(l, r) < 0
	case "<=":
		return compareEnv(l, r) <= 0
	case ">":
		return compareEnv(l, r) > 0
	case ">=":
		return compareEnv(l, r) >= 0
	case "~=":
		// ~=X.Y.Z means >=X.Y.Z and ==X.Y.*; newCmp checked that a literal
		// has two release numbers, and a runtime's version has.
		return compareEnv(l, r) >= 0 && hasPrefix(l, r.v.Prefix(r.v.ReleaseLen()-1))
	}
	return false // unreachable: newCmp accepts only the operators above
}

// compareEnv orders two versions, either of which may be the newest
// release of its prefix.
func compareEnv(a, b envVersion) int {
	switch {
	case a.latest && !b.latest:
		return newestAbove(a.v, b.v)
	case b.latest && !a.latest:
		return -newestAbove(b.v, a.v)
	}
	return a.v.Compare(b.v)
}

// newestAbove compares the newest release starting with prefix against v.
// When v's release does not start with prefix's, the first release number
// that differs decides, as it does between prefix and v themselves.
func newestAbove(prefix, v pep440.Version) int {
	if v.HasPrefix(prefix) {
		return 1
	}
	return prefix.Compare(v)
}

// hasPrefix reports whether v matches the release prefix p (== "p.*").
func hasPrefix(v envVersion, p pep440.Version) bool {
	if v.latest && p.ReleaseLen() > v.v.ReleaseLen() {
		return false // the newest patch is not one named in advance
	}
	return v.v.HasPrefix(p)
}

// stringIn returns the operand's value as a string in e.
func (o operand) stringIn(e env) string {
	switch o.name {
	case "":
		return o.lit
	case "python_version":
		return fmt.Sprintf("3.%d", e.minor)
	case "platform_machine":
		return e.machine
	case "sys_platform":
		return "linux"
	case "platform_system":
		return "Linux"
	case "os_name":
		return "posix"
	case "implementation_name":
		return "cpython"
	case "platform_python_implementation":
		return "CPython"
	}
	return "" // extra: a layer installs no extras
}

// has reports whether the set variable name ("extras" or
// "dependency_groups") holds lit, compared as normalized names (PEP 685,
// PEP 735) the way packaging does.
func (s *markerSets) has(name, lit string) bool {
	if s == nil {
		return false
	}
	set := s.extras
	if name == "dependency_groups" {
		set = s.groups
	}
	return set[pyname.Normalize(lit)]
}

// Kinds of marker variable.
const (
	varString  = iota
	varVersion // python_version: exact on Lambda
	varPatch   // python_full_version, implementation_version: patch unknown
	varSet     // extras, dependency_groups: sets of names, pylock.toml only
)

// variableKind classifies a PEP 508 marker variable, refusing those that
// have no fixed value on Lambda.
func variableKind(name string) (int, error) {
	switch name {
	case "python_version":
		return varVersion, nil
	case "python_full_version", "implementation_version":
		return varPatch, nil
	case "platform_machine", "sys_platform", "platform_system", "os_name",
		"implementation_name", "platform_python_implementation", "extra":
		return varString, nil
	case "extras", "dependency_groups":
		return varSet, nil
	case "platform_release", "platform_version":
		return 0, fmt.Errorf("%s depends on the kernel of the Lambda host and cannot be evaluated when building", name)
	}
	return 0, fmt.Errorf("unknown marker variable %s", clip.Quote(name))
}

// newCmp checks a comparison and decides how it compares, so that Eval
// never meets a comparison it cannot answer.
func newCmp(l, r operand, op string) (*cmpExpr, error) {
	kind := func(o operand) int {
		k, _ := variableKind(o.name) // names were checked by the parser
		if o.name == "" {
			k = -1
		}
		return k
	}
	lk, rk := kind(l), kind(r)
	x := &cmpExpr{l: l, r: r, op: op}
	if lk == varSet || rk == varSet {
		// Only membership of a name has a meaning both here and in
		// packaging; anything else would be a guess.
		set := l.name
		if rk == varSet {
			set = r.name
		}
		if lk != -1 || rk != varSet || (op != "in" && op != "not in") {
			return nil, fmt.Errorf("%s is a set of names: only \"NAME\" in %s and \"NAME\" not in %s are supported", set, set, set)
		}
		if !pyname.Valid(l.lit) {
			return nil, fmt.Errorf("%q in %s: %q is not a valid name", l.lit, set, l.lit)
		}
		x.member = true
		return x, nil
	}
	stringOnly := op == "in" || op == "not in" || op == "==="
	switch {
	case stringOnly && (lk == varPatch || rk == varPatch):
		return nil, fmt.Errorf("%s %s: the patch release of a Lambda runtime is not fixed, so it can only be compared as a version (==, !=, <, <=, >, >=, ~=)", x.desc(), op)
	case stringOnly:
		return x, nil
	case lk >= varVersion || rk >= varVersion:
		x.version = true
		for i, o := range []*operand{&x.l, &x.r} {
			if o.name != "" {
				if k := kind(*o); k == varString {
					return nil, fmt.Errorf("%s %s: %s is not a version", x.desc(), op, o.name)
				}
				continue
			}
			v, prefix, err := parseVersionOperand(o.lit, i == 1, op)
			if err != nil {
				return nil, fmt.Errorf("%s %s %s: %w", x.desc(), op, clip.Quote(o.lit), err)
			}
			o.ver, x.prefix = &v, prefix
		}
	case lk < 0 && rk < 0:
		// Two literals: compare as versions when both are, as packaging does.
		lv, _, lerr := parseVersionOperand(l.lit, false, op)
		rv, prefix, rerr := parseVersionOperand(r.lit, true, op)
		if lerr == nil && rerr == nil {
			x.version, x.l.ver, x.r.ver, x.prefix = true, &lv, &rv, prefix
		}
	}
	if op == "~=" {
		if !x.version {
			return nil, fmt.Errorf("%s ~=: ~= compares versions, and these are strings", x.desc())
		}
		if x.r.ver != nil && x.r.ver.ReleaseLen() < 2 {
			return nil, fmt.Errorf("~=%s needs at least two release numbers", clip.String(x.r.lit))
		}
	}
	return x, nil
}

// parseVersionOperand parses a literal compared as a version. On the right
// of == and != a trailing ".*" makes it a release prefix (prefix is true).
func parseVersionOperand(lit string, right bool, op string) (v pep440.Version, prefix bool, err error) {
	lit = strings.TrimSpace(lit)
	if right && (op == "==" || op == "!=") && strings.HasSuffix(lit, ".*") {
		v, err = pep440.ParsePrefix(lit)
		return v, true, err
	}
	v, err = pep440.Parse(lit)
	return v, false, err
}

// desc names the left side of a comparison for messages.
func (x *cmpExpr) desc() string {
	if x.l.name != "" {
		return x.l.name
	}
	return clip.Quote(x.l.lit)
}

// Marker tokens.
const (
	tEOF = iota
	tLParen
	tRParen
	tString
	tIdent // variable names and the keywords and, or, in, not
	tOp    // ===, ==, !=, ~=, <=, >=, <, >
)

type token struct {
	kind int
	text string // for tString, the contents without quotes
	pos  int
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpace(c):
			i++
		case c == '(' || c == ')':
			k := tLParen
			if c == ')' {
				k = tRParen
			}
			toks = append(toks, token{k, string(c), i})
			i++
		case c == '"' || c == '\'':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			toks = append(toks, token{tString, s[i+1 : i+1+end], i})
			i += end + 2
		case isAlnum(c) || c == '_' || c == '.':
			j := i
			for j < len(s) && (isAlnum(s[j]) || s[j] == '_' || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range []string{"===", "==", "!=", "~=", "<=", ">=", "<", ">"} {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("unexpected %q at offset %d", s[i:i+1], i)
			}
			toks = append(toks, token{tOp, op, i})
			i += len(op)
		}
	}
	return append(toks, token{kind: tEOF, text: "end of marker", pos: len(s)}), nil
}

// maxDepth bounds parenthesis nesting, so hostile input cannot exhaust
// the stack.
const maxDepth = 100

type markerParser struct {
	toks   []token
	i      int
	depth  int
	pylock bool // extras and dependency_groups are allowed
}

func (p *markerParser) peek() token { return p.toks[p.i] }

func (p *markerParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *markerParser) isKeyword(word string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == word
}

func (p *markerParser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	for err == nil && p.isKeyword("or") {
		p.next()
		var r expr
		if r, err = p.parseAnd(); err == nil {
			l = &boolExpr{and: false, l: l, r: r}
		}
	}
	return l, err
}

func (p *markerParser) parseAnd() (expr, error) {
	l, err := p.parseAtom()
	for err == nil && p.isKeyword("and") {
		p.next()
		var r expr
		if r, err = p.parseAtom(); err == nil {
			l = &boolExpr{and: true, l: l, r: r}
		}
	}
	return l, err
}

func (p *markerParser) parseAtom() (expr, error) {
	if p.peek().kind == tLParen {
		open := p.next()
		if p.depth++; p.depth > maxDepth {
			return nil, errors.New("parentheses nested too deeply")
		}
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.depth--
		if t := p.next(); t.kind != tRParen {
			return nil, fmt.Errorf("expected ) to close ( at offset %d, found %s", open.pos, clip.Quote(t.text))
		}
		return x, nil
	}
	l, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	op, err := p.parseOp()
	if err != nil {
		return nil, err
	}
	r, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	return newCmp(l, r, op)
}

func (p *markerParser) parseOperand() (operand, error) {
	t := p.next()
	switch {
	case t.kind == tString:
		return operand{lit: t.text}, nil
	case t.kind == tIdent && !isMarkerKeyword(t.text):
		k, err := variableKind(t.text)
		if err != nil {
			return operand{}, err
		}
		if k == varSet && !p.pylock {
			return operand{}, fmt.Errorf("%s is a PEP 751 marker variable: it has a meaning only in a pylock.toml", t.text)
		}
		return operand{name: t.text}, nil
	}
	return operand{}, fmt.Errorf("expected a variable or a quoted string at offset %d, found %s", t.pos, clip.Quote(t.text))
}

func (p *markerParser) parseOp() (string, error) {
	t := p.next()
	switch {
	case t.kind == tOp:
		return t.text, nil
	case t.kind == tIdent && t.text == "in":
		return "in", nil
	case t.kind == tIdent && t.text == "not" && p.isKeyword("in"):
		p.next()
		return "not in", nil
	}
	return "", fmt.Errorf("expected a comparison operator at offset %d, found %s", t.pos, clip.Quote(t.text))
}

func isMarkerKeyword(s string) bool {
	return s == "and" || s == "or" || s == "in" || s == "not"
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
