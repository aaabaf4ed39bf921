package bytecode

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// Type codes of CPython's marshal format (Python/marshal.c), the same for
// 3.9 to 3.14 except TYPE_SLICE, new in 3.14 (marshal version 5).
const (
	typeNull          = '0'
	typeNone          = 'N'
	typeFalse         = 'F'
	typeTrue          = 'T'
	typeStopIter      = 'S'
	typeEllipsis      = '.'
	typeInt           = 'i'
	typeInt64         = 'I' // read only: no writer since 3.4 emits it
	typeFloat         = 'f' // marshal version 0 text float
	typeBinaryFloat   = 'g'
	typeComplex       = 'x' // marshal version 0 text complex
	typeBinaryComplex = 'y'
	typeLong          = 'l'
	typeString        = 's' // bytes
	typeInterned      = 't'
	typeRef           = 'r'
	typeTuple         = '('
	typeList          = '['
	typeDict          = '{'
	typeCode          = 'c'
	typeUnicode       = 'u'
	typeSet           = '<'
	typeFrozenset     = '>'
	typeSlice         = ':'
	typeASCII         = 'a'
	typeASCIIInterned = 'A'
	typeSmallTuple    = ')'
	typeShortASCII    = 'z'
	typeShortASCIIInt = 'Z'

	flagRef = 0x80
)

// maxDepth is CPython's MAX_MARSHAL_STACK_DEPTH on Linux and macOS: the
// interpreter refuses to read anything nested deeper, so neither do we.
const maxDepth = 2000

// object is one marshalled object. Its encoding is its type code followed
// by parts, each either bytes copied as they are (lengths, counts, the
// payload of a string or number) or a nested object. A TYPE_REF in the
// input is not an object of its own: the part points at the object it
// names, so the parsed stream is the graph of objects the interpreter
// would build, with sharing and without the writer's bookkeeping.
type object struct {
	code  byte // type code without FLAG_REF
	parts []part
	done  bool // all parts parsed; a reference to an unfinished object is a cycle

	canonical *object // the object that stands for this one's value, once known
	id        int     // canonical objects: order of creation, for keys
	uses      int     // canonical objects: how many parts (and the root) point here
	index     int     // canonical objects: reference index in the output, -1 until written
	digest    *[sha256.Size]byte
}

type part struct {
	raw   []byte
	child *object
}

// Canonicalize rewrites the marshal stream of a compiled module (a .pyc
// without its 16-byte header) for Python 3.minor so that its bytes depend
// only on the values it holds, not on the history of the process that
// wrote it.
//
// That history shows in marshal.dumps output in four ways. FLAG_REF marks
// any object whose reference count is above one. Whether two equal
// constants are one object can change: names are interned in a table the
// whole process shares, so in 3.13 a class's co_qualname and its
// __qualname__ constant are one object in a fresh process and two once a
// module with the same qualname has been compiled and kept. Whether a
// string is marked interned can change: the empty and one-character
// strings are process-wide singletons that anything may have interned.
// And a frozenset's order follows hashes (3.9, 3.10: hash(None) is an
// address) or the flagged encodings of its elements (3.11 on).
//
// So Canonicalize makes each immutable value (string, bytes, number,
// tuple, frozenset, slice) one object however often it occurs, marked
// interned if any occurrence was (always, for strings of at most one
// character); orders set elements by a digest of their value; writes each
// object in full where it first appears, with FLAG_REF only if a TYPE_REF
// follows, and as a TYPE_REF after that, numbering references in order of
// appearance; and copies every payload byte unchanged. Code objects,
// lists, dicts, sets and NaN floats keep their identity. The result loads
// to equal code: the compiler itself merges equal constants, and the
// interned mark only decides when a string enters the intern table.
//
// Malformed input (an unknown type code, a length past the end, a
// reference to nothing or to an unfinished object, trailing bytes, nesting
// deeper than the interpreter reads) is an error.
func Canonicalize(data []byte, minor int) ([]byte, error) {
	return appendCanonical(make([]byte, 0, len(data)), data, minor)
}

// appendCanonical appends the canonical form of data to dst.
func appendCanonical(dst, data []byte, minor int) ([]byte, error) {
	if minor < 9 || minor > 14 {
		return nil, fmt.Errorf("marshal: Python 3.%d is not supported (3.9 to 3.14)", minor)
	}
	in, err := parseMarshal(data, minor)
	if err != nil {
		return nil, err
	}
	root := newCanon(len(data)).object(in)
	root.uses = 1
	countUses(root)
	w := writer{buf: dst}
	if err := w.write(root, 1); err != nil {
		return nil, err
	}
	return w.buf, nil
}

// parseMarshal reads one object that must span all of data.
func parseMarshal(data []byte, minor int) (*object, error) {
	p := parser{data: data, minor: minor}
	root, err := p.object(1)
	if err != nil {
		return nil, fmt.Errorf("marshal data for Python 3.%d: %w", minor, err)
	}
	if root == nil {
		return nil, fmt.Errorf("marshal data for Python 3.%d: NULL object at offset 0", minor)
	}
	if p.pos != len(data) {
		return nil, fmt.Errorf("marshal data for Python 3.%d: %d trailing bytes after the object at offset %d", minor, len(data)-p.pos, p.pos)
	}
	return root, nil
}

type parser struct {
	data  []byte
	pos   int
	minor int
	refs  []*object // the reader's reference list, in the order it fills it
}

var errShort = errors.New("data ends inside an object")

func (p *parser) take(n int) ([]byte, error) {
	if n < 0 || n > len(p.data)-p.pos {
		return nil, errShort
	}
	b := p.data[p.pos : p.pos+n]
	p.pos += n
	return b, nil
}

// size reads a 32-bit length and checks that at least min bytes per unit
// remain, so a forged count cannot make the parser allocate or loop for
// data that is not there.
func (p *parser) size(perUnit int) ([]byte, int, error) {
	b, err := p.take(4)
	if err != nil {
		return nil, 0, err
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 0 {
		return nil, 0, fmt.Errorf("negative size %d at offset %d", n, p.pos-4)
	}
	if perUnit > 0 && n > (len(p.data)-p.pos)/perUnit {
		return nil, 0, fmt.Errorf("size %d at offset %d runs past the end of the data", n, p.pos-4)
	}
	return b, n, nil
}

// object reads one object. It returns nil, nil for TYPE_NULL, which only a
// dict may contain (as its terminator).
func (p *parser) object(depth int) (*object, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("objects nested deeper than %d at offset %d", maxDepth, p.pos)
	}
	start := p.pos
	b, err := p.take(1)
	if err != nil {
		return nil, errShort
	}
	flag, code := b[0]&flagRef != 0, b[0]&^flagRef
	o := &object{code: code, index: -1}
	if code == typeCode {
		o.parts = make([]part, 0, 13)
	}

	switch code {
	case typeNull:
		return nil, nil
	case typeNone, typeFalse, typeTrue, typeStopIter, typeEllipsis:
		// Singletons: the reader never enters them in the reference list,
		// whatever the flag says.
		o.done = true
		return o, nil
	case typeRef:
		b, err := p.take(4)
		if err != nil {
			return nil, err
		}
		i := int(int32(binary.LittleEndian.Uint32(b)))
		if i < 0 || i >= len(p.refs) {
			return nil, fmt.Errorf("reference %d at offset %d: only %d objects are marked for reference", i, start, len(p.refs))
		}
		target := p.refs[i]
		if !target.done {
			return nil, fmt.Errorf("reference %d at offset %d points at an object that contains it", i, start)
		}
		return target, nil
	}

	// Everything else the reader enters in the reference list when
	// flagged, before reading what it contains.
	if flag {
		p.refs = append(p.refs, o)
	}
	switch code {
	case typeInt:
		err = p.raw(o, 4)
	case typeInt64, typeBinaryFloat:
		err = p.raw(o, 8)
	case typeBinaryComplex:
		err = p.raw(o, 16)
	case typeFloat:
		err = p.shortString(o)
	case typeComplex:
		if err = p.shortString(o); err == nil {
			err = p.shortString(o)
		}
	case typeLong:
		var b []byte
		if b, err = p.take(4); err == nil {
			n := int64(int32(binary.LittleEndian.Uint32(b)))
			if n < 0 {
				n = -n
			}
			if n > 0x7fffffff {
				err = fmt.Errorf("long size out of range at offset %d", start)
				break
			}
			o.parts = append(o.parts, part{raw: b})
			err = p.raw(o, int(n)*2)
		}
	case typeString, typeInterned, typeUnicode, typeASCII, typeASCIIInterned:
		var b []byte
		var n int
		if b, n, err = p.size(1); err == nil {
			o.parts = append(o.parts, part{raw: b})
			err = p.raw(o, n)
		}
	case typeShortASCII, typeShortASCIIInt:
		err = p.shortString(o)
	case typeSmallTuple:
		var b []byte
		if b, err = p.take(1); err == nil {
			o.parts = append(o.parts, part{raw: b})
			err = p.children(o, depth, start, int(b[0]))
		}
	case typeTuple, typeList, typeSet, typeFrozenset:
		var b []byte
		var n int
		if b, n, err = p.size(1); err == nil {
			o.parts = append(o.parts, part{raw: b})
			err = p.children(o, depth, start, n)
		}
	case typeDict:
		for err == nil {
			var k, v *object
			if k, err = p.object(depth + 1); err != nil {
				break
			}
			if k == nil {
				o.parts = append(o.parts, part{raw: []byte{typeNull}})
				break
			}
			if v, err = p.object(depth + 1); err != nil {
				break
			}
			if v == nil {
				err = fmt.Errorf("NULL value in dict at offset %d", start)
				break
			}
			o.parts = append(o.parts, part{child: k}, part{child: v})
		}
	case typeCode:
		err = p.code(o, depth)
	case typeSlice:
		if p.minor < 14 {
			err = fmt.Errorf("slice object at offset %d: Python 3.%d has no marshalled slices (3.14 added them)", start, p.minor)
			break
		}
		err = p.children(o, depth, start, 3)
	default:
		err = fmt.Errorf("unknown type code 0x%02x at offset %d", b[0], start)
	}
	if err != nil {
		return nil, err
	}
	o.done = true
	return o, nil
}

// raw appends the next n bytes to o's parts.
func (p *parser) raw(o *object, n int) error {
	b, err := p.take(n)
	if err != nil {
		return err
	}
	o.parts = append(o.parts, part{raw: b})
	return nil
}

// children appends the next n objects to o's parts.
func (p *parser) children(o *object, depth, start, n int) error {
	if len(o.parts) == 0 {
		// A count is at most the bytes left, so this is bounded by the input.
		o.parts = make([]part, 0, 1+min(n, 4096))
	}
	for range n {
		c, err := p.object(depth + 1)
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("NULL object inside %q at offset %d", o.code, start)
		}
		o.parts = append(o.parts, part{child: c})
	}
	return nil
}

// shortString reads a one-byte length and that many bytes.
func (p *parser) shortString(o *object) error {
	b, err := p.take(1)
	if err != nil {
		return err
	}
	s, err := p.take(int(b[0]))
	if err != nil {
		return err
	}
	o.parts = append(o.parts, part{raw: b}, part{raw: s})
	return nil
}

// code reads a code object's fields. 3.9 and 3.10 write six 32-bit
// counts (argcount, posonlyargcount, kwonlyargcount, nlocals, stacksize,
// flags), eight objects (code, consts, names, varnames, freevars,
// cellvars, filename, name), firstlineno and one object (lnotab or
// linetable). 3.11 to 3.14 drop nlocals and replace the variable tuples
// with localsplusnames and localspluskinds, add qualname and end with
// linetable and exceptiontable.
func (p *parser) code(o *object, depth int) error {
	counts, trailing := 6, 1
	if p.minor >= 11 {
		counts, trailing = 5, 2
	}
	fields := func(n int) error {
		for range n {
			c, err := p.object(depth + 1)
			if err != nil {
				return err
			}
			if c == nil {
				return fmt.Errorf("NULL field in code object before offset %d", p.pos)
			}
			o.parts = append(o.parts, part{child: c})
		}
		return nil
	}
	b, err := p.take(4 * counts)
	if err != nil {
		return err
	}
	o.parts = append(o.parts, part{raw: b})
	if err := fields(8); err != nil {
		return err
	}
	if b, err = p.take(4); err != nil {
		return err
	}
	o.parts = append(o.parts, part{raw: b})
	return fields(trailing)
}

// canon turns a parsed graph into its canonical form in place: each
// object's parts are made to point at canonical objects, and equal
// immutable values are replaced by the first object seen with that value.
type canon struct {
	values map[string]*object // value key -> the canonical object for it
	key    []byte
	n      int
}

// newCanon sizes its table for a stream of size bytes: real modules
// average one immutable value per 20-odd bytes.
func newCanon(size int) *canon {
	return &canon{values: make(map[string]*object, size/24)}
}

// internedCode maps each string type code to its interned variant.
var internedCode = map[byte]byte{
	typeUnicode: typeInterned, typeInterned: typeInterned,
	typeASCII: typeASCIIInterned, typeASCIIInterned: typeASCIIInterned,
	typeShortASCII: typeShortASCIIInt, typeShortASCIIInt: typeShortASCIIInt,
}

func (c *canon) object(o *object) *object {
	if o.canonical != nil {
		return o.canonical
	}
	for i, pt := range o.parts {
		if pt.child != nil {
			o.parts[i].child = c.object(pt.child)
		}
	}
	if isSet(o.code) {
		// Elements after the count, by value: the order is then the same
		// whatever order hashing or the writer's flags gave them.
		slices.SortStableFunc(o.parts[1:], func(a, b part) int {
			return bytes.Compare(a.child.valueDigest()[:], b.child.valueDigest()[:])
		})
	}
	interned, isString := internedCode[o.code]
	if isString && utf8.RuneCount(o.parts[len(o.parts)-1].raw) <= 1 {
		// The empty string and one-character strings are singletons the
		// whole process shares (3.9 to 3.12 create them on first use), so
		// whether one is marked interned depends on what ran before.
		o.code = interned
	}
	o.canonical = o
	if key, ok := c.valueKey(o); ok {
		if m, ok := c.values[string(key)]; ok {
			if isString && o.code == interned {
				m.code = internedCode[m.code]
			}
			o.canonical = m
			return m
		}
		c.values[string(key)] = o
	}
	o.id = c.n
	c.n++
	return o
}

// valueKey identifies the value of an immutable object whose parts are
// already canonical: a string by its text alone (interned or not, short or
// long), anything else by its type code, raw parts and the identities of
// what it contains. It reports false for objects whose identity matters.
// The key is valid until the next call.
func (c *canon) valueKey(o *object) ([]byte, bool) {
	k := c.key[:0]
	defer func() { c.key = k[:0] }()
	if _, ok := internedCode[o.code]; ok {
		k = append(k, "str\x00"...)
		k = append(k, o.parts[len(o.parts)-1].raw...)
		return k, true
	}
	switch o.code {
	case typeCode, typeList, typeDict, typeSet:
		return nil, false
	case typeNone, typeFalse, typeTrue, typeStopIter, typeEllipsis:
		// Singletons are never entered in the reference list.
		return nil, false
	case typeBinaryFloat, typeBinaryComplex, typeFloat, typeComplex:
		// A NaN is not equal to itself, so two NaN objects are two
		// values: a frozenset may hold both.
		if isNaN(o) {
			return nil, false
		}
	}
	k = append(k, o.code)
	for _, pt := range o.parts {
		if pt.child == nil {
			k = append(k, 0)
			k = binary.LittleEndian.AppendUint64(k, uint64(len(pt.raw)))
			k = append(k, pt.raw...)
		} else {
			k = append(k, 1)
			k = binary.LittleEndian.AppendUint64(k, uint64(pt.child.id))
		}
	}
	return k, true
}

// isNaN reports whether a float or complex holds a NaN.
func isNaN(o *object) bool {
	switch o.code {
	case typeBinaryFloat, typeBinaryComplex:
		p := o.parts[0].raw
		for i := 0; i+8 <= len(p); i += 8 {
			if math.IsNaN(math.Float64frombits(binary.LittleEndian.Uint64(p[i:]))) {
				return true
			}
		}
	case typeFloat, typeComplex:
		for i := 1; i < len(o.parts); i += 2 {
			if bytes.Contains(bytes.ToLower(o.parts[i].raw), []byte("nan")) {
				return true
			}
		}
	}
	return false
}

// countUses counts, for every object reachable from o, how many parts
// point at it. Each object's parts are walked once, on its first use.
func countUses(o *object) {
	for _, pt := range o.parts {
		if c := pt.child; c != nil {
			c.uses++
			if c.uses == 1 {
				countUses(c)
			}
		}
	}
}

func isSet(code byte) bool { return code == typeSet || code == typeFrozenset }

// valueDigest identifies an object's value: its type code, raw parts and
// the digests of what it contains, a set's elements taken in digest
// order, so equal values have equal digests however they were written.
func (o *object) valueDigest() *[sha256.Size]byte {
	if o.digest != nil {
		return o.digest
	}
	h := sha256.New()
	if _, ok := internedCode[o.code]; ok {
		// Interned or not, short or long, the same text is the same value.
		h.Write([]byte("str"))
		h.Write(o.parts[len(o.parts)-1].raw)
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		o.digest = &sum
		return o.digest
	}
	h.Write([]byte{o.code})
	var kids [][]byte
	var n [8]byte
	for _, pt := range o.parts {
		if pt.child == nil {
			binary.LittleEndian.PutUint64(n[:], uint64(len(pt.raw)))
			h.Write([]byte{0})
			h.Write(n[:])
			h.Write(pt.raw)
			continue
		}
		d := pt.child.valueDigest()
		if isSet(o.code) {
			kids = append(kids, d[:])
			continue
		}
		h.Write([]byte{1})
		h.Write(d[:])
	}
	slices.SortFunc(kids, bytes.Compare)
	for _, d := range kids {
		h.Write([]byte{1})
		h.Write(d)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	o.digest = &sum
	return o.digest
}

type writer struct {
	buf   []byte
	nrefs int
}

// write encodes o. An object used more than once is written in full, with
// FLAG_REF, where it first appears, and as a TYPE_REF everywhere after.
func (w *writer) write(o *object, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("marshal: objects nested deeper than %d", maxDepth)
	}
	if o.index >= 0 {
		w.buf = append(w.buf, typeRef)
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(o.index))
		return nil
	}
	code := o.code
	if o.uses > 1 {
		o.index = w.nrefs
		w.nrefs++
		code |= flagRef
	}
	w.buf = append(w.buf, code)
	for _, pt := range o.parts {
		if pt.child == nil {
			w.buf = append(w.buf, pt.raw...)
			continue
		}
		if err := w.write(pt.child, depth+1); err != nil {
			return err
		}
	}
	return nil
}
