package license

import (
	"fmt"
	"slices"
	"strings"

	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"

	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// Expr is a parsed SPDX license expression (SPDX 2.3 annex D): a license
// (an SPDX id, optionally with "+" and a WITH exception, or a
// LicenseRef-), or AND / OR of expressions. Ids are in the SPDX list's
// spelling; nested operators of one kind are flattened.
type Expr struct {
	// Op is "AND" or "OR" for a compound; "" for a license.
	Op   string
	Args []*Expr
	// License is the id or LicenseRef of a license, with its "+".
	License string
	// Exception is the WITH exception's id, or "".
	Exception string
}

// String writes e with parentheses only where AND binds tighter than OR
// would otherwise change its meaning: "MIT AND (Apache-2.0 OR BSD-3-Clause)".
func (e *Expr) String() string {
	if e.Op == "" {
		if e.Exception != "" {
			return e.License + " WITH " + e.Exception
		}
		return e.License
	}
	parts := make([]string, len(e.Args))
	for i, a := range e.Args {
		parts[i] = a.String()
		if e.Op == "AND" {
			parts[i] = andTerm(a)
		}
	}
	return strings.Join(parts, " "+e.Op+" ")
}

// andTerm writes e as a term of an AND: parenthesized when it is an OR.
func andTerm(e *Expr) string {
	if e.Op == "OR" {
		return "(" + e.String() + ")"
	}
	return e.String()
}

// IDs returns every license id and LicenseRef in e, without "+", in
// order of appearance.
func (e *Expr) IDs() []string {
	if e.Op == "" {
		return []string{strings.TrimSuffix(e.License, "+")}
	}
	var out []string
	for _, a := range e.Args {
		out = append(out, a.IDs()...)
	}
	return out
}

// ParseExpression parses an SPDX license expression. Ids are matched
// without regard to case, as SPDX says, and written as the SPDX list
// spells them; an id not on the list (active or deprecated) is an error,
// so free text such as "BSD" or "Apache 2.0" is never taken for one.
func ParseExpression(s string) (*Expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty license expression")
	}
	p := &exprParser{toks: toks, src: s}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("license expression %s: unexpected %q", clip.Quote(s), p.toks[p.i])
	}
	return e, nil
}

// tokenize splits s into parentheses and words.
func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()", rune(s[j])) {
				if !isIDByte(s[j]) {
					return nil, fmt.Errorf("license expression %s: %q cannot be in an SPDX expression", clip.Quote(s), s[j])
				}
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

// isIDByte reports whether c may be in an SPDX id, a LicenseRef or a
// DocumentRef (letters, digits, "-", ".", "+" and ":").
func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '+' || c == ':'
}

type exprParser struct {
	toks []string
	i    int
	src  string
}

func (p *exprParser) peekOp(op string) bool {
	return p.i < len(p.toks) && strings.EqualFold(p.toks[p.i], op)
}

func (p *exprParser) or() (*Expr, error) {
	return p.binary("OR", p.and)
}

func (p *exprParser) and() (*Expr, error) {
	return p.binary("AND", p.with)
}

// binary parses next (op next)*, flattening into one compound.
func (p *exprParser) binary(op string, next func() (*Expr, error)) (*Expr, error) {
	first, err := next()
	if err != nil {
		return nil, err
	}
	args := []*Expr{first}
	for p.peekOp(op) {
		p.i++
		e, err := next()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	if len(args) == 1 {
		return first, nil
	}
	return compound(op, args), nil
}

// compound makes op of args, taking the arguments of nested compounds
// of the same op into it.
func compound(op string, args []*Expr) *Expr {
	e := &Expr{Op: op}
	for _, a := range args {
		if a.Op == op {
			e.Args = append(e.Args, a.Args...)
		} else {
			e.Args = append(e.Args, a)
		}
	}
	return e
}

func (p *exprParser) with() (*Expr, error) {
	e, err := p.atom()
	if err != nil {
		return nil, err
	}
	if !p.peekOp("WITH") {
		return e, nil
	}
	if e.Op != "" || strings.HasPrefix(e.License, "LicenseRef-") || strings.Contains(e.License, ":") {
		return nil, fmt.Errorf("license expression %s: WITH must follow an SPDX license id", clip.Quote(p.src))
	}
	p.i++
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("license expression %s: WITH needs an exception id", clip.Quote(p.src))
	}
	ok, id := spdxlicenses.IsException(p.toks[p.i])
	if !ok {
		return nil, fmt.Errorf("license expression %s: %q is not an SPDX license exception", clip.Quote(p.src), p.toks[p.i])
	}
	p.i++
	e.Exception = id
	return e, nil
}

func (p *exprParser) atom() (*Expr, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("license expression %s: ends where a license was expected", clip.Quote(p.src))
	}
	t := p.toks[p.i]
	p.i++
	switch {
	case t == "(":
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i] != ")" {
			return nil, fmt.Errorf("license expression %s: a \"(\" is not closed", clip.Quote(p.src))
		}
		p.i++
		return e, nil
	case t == ")" || isOperator(t):
		return nil, fmt.Errorf("license expression %s: %q where a license was expected", clip.Quote(p.src), t)
	}
	id, err := licenseID(t)
	if err != nil {
		return nil, fmt.Errorf("license expression %s: %w", clip.Quote(p.src), err)
	}
	return &Expr{License: id}, nil
}

func isOperator(t string) bool {
	return strings.EqualFold(t, "AND") || strings.EqualFold(t, "OR") || strings.EqualFold(t, "WITH")
}

// licenseID checks one license token and spells it as the SPDX list does.
func licenseID(t string) (string, error) {
	if ref, ok := licenseRef(t); ok {
		return ref, nil
	}
	base, plus := strings.CutSuffix(t, "+")
	if ok, id := spdxlicenses.IsActiveLicense(base); ok {
		return id + plusSign(plus), nil
	}
	if ok, id := spdxlicenses.IsDeprecatedLicense(base); ok {
		return id + plusSign(plus), nil
	}
	if ok, id := spdxlicenses.IsDeprecatedLicense(t); ok { // "GPL-2.0+" is itself a deprecated id
		return id, nil
	}
	return "", fmt.Errorf("%q is not an SPDX license id", t)
}

func plusSign(plus bool) string {
	if plus {
		return "+"
	}
	return ""
}

// licenseRef accepts "LicenseRef-X" and "DocumentRef-Y:LicenseRef-X".
func licenseRef(t string) (string, bool) {
	doc, ref, hasDoc := strings.Cut(t, ":")
	if !hasDoc {
		ref, doc = doc, ""
	}
	if !strings.HasPrefix(ref, "LicenseRef-") || len(ref) == len("LicenseRef-") || strings.ContainsAny(ref, "+:") {
		return "", false
	}
	if hasDoc && (!strings.HasPrefix(doc, "DocumentRef-") || len(doc) == len("DocumentRef-")) {
		return "", false
	}
	return t, true
}

// And is the AND of exprs as one expression string: each expression's
// top-level AND terms are taken apart, duplicates dropped, and the terms
// sorted (so the result does not depend on the order packages come in);
// an OR term is parenthesized. "" for none.
func And(exprs ...*Expr) string {
	seen := map[string]bool{}
	var terms []*Expr
	for _, e := range exprs {
		if e == nil {
			continue
		}
		parts := []*Expr{e}
		if e.Op == "AND" {
			parts = e.Args
		}
		for _, t := range parts {
			s := t.String()
			if !seen[s] {
				seen[s] = true
				terms = append(terms, t)
			}
		}
	}
	slices.SortFunc(terms, func(a, b *Expr) int {
		return strings.Compare(strings.ToLower(a.String()), strings.ToLower(b.String()))
	})
	switch len(terms) {
	case 0:
		return ""
	case 1:
		return terms[0].String()
	}
	return (&Expr{Op: "AND", Args: terms}).String()
}
