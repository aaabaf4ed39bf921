package bytecode

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// Builders for marshal streams, so each case reads as the objects it holds.

func le32(n int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(int32(n))) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// flagged sets FLAG_REF on an encoded object's type code.
func flagged(b []byte) []byte {
	c := bytes.Clone(b)
	c[0] |= flagRef
	return c
}

func short(s string) []byte    { return cat([]byte{typeShortASCII, byte(len(s))}, []byte(s)) }
func interned(s string) []byte { return cat([]byte{typeShortASCIIInt, byte(len(s))}, []byte(s)) }
func unicode(s string) []byte  { return cat([]byte{typeUnicode}, le32(len(s)), []byte(s)) }
func ref(i int) []byte         { return cat([]byte{typeRef}, le32(i)) }
func integer(n int) []byte     { return cat([]byte{typeInt}, le32(n)) }
func float(f float64) []byte {
	return cat([]byte{typeBinaryFloat}, binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)))
}
func tuple(items ...[]byte) []byte {
	return cat(append([][]byte{{typeSmallTuple, byte(len(items))}}, items...)...)
}
func frozenset(items ...[]byte) []byte {
	return cat(append([][]byte{{typeFrozenset}, le32(len(items))}, items...)...)
}
func list(items ...[]byte) []byte {
	return cat(append([][]byte{{typeList}, le32(len(items))}, items...)...)
}

var (
	none = []byte{typeNone}
	null = []byte{typeNull}
)

// code311 is a 3.11-3.14 code object with the given constants.
func code311(name string, consts []byte) []byte {
	return cat([]byte{typeCode}, le32(0), le32(0), le32(0), le32(1), le32(0),
		cat([]byte{typeString}, le32(2), []byte{0x97, 0x00}), // co_code
		consts, tuple(), tuple(), cat([]byte{typeString}, le32(0)),
		short("/opt/python/m.py"), interned(name), interned(name),
		le32(1), cat([]byte{typeString}, le32(0)), cat([]byte{typeString}, le32(0)))
}

// code39 is a 3.9/3.10 code object with the given constants.
func code39(consts []byte) []byte {
	return cat([]byte{typeCode}, le32(0), le32(0), le32(0), le32(0), le32(1), le32(0),
		cat([]byte{typeString}, le32(2), []byte{0x64, 0x00}),
		consts, tuple(), tuple(), tuple(), tuple(),
		short("/opt/python/m.py"), interned("<module>"),
		le32(1), cat([]byte{typeString}, le32(0)))
}

func TestCanonicalize(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name  string
		minor int
		in    []byte
		want  []byte
	}{
		{"an unreferenced object loses its flag", 12,
			tuple(flagged(short("abc")), flagged(integer(300))),
			tuple(short("abc"), integer(300))},
		{"a referenced object keeps its flag and references are renumbered", 12,
			tuple(flagged(short("unused")), flagged(short("used")), ref(1)),
			tuple(short("unused"), flagged(short("used")), ref(0))},
		{"equal strings become one object", 12,
			tuple(short("abc"), short("abc")),
			tuple(flagged(short("abc")), ref(0))},
		{"a string is interned if any occurrence was", 12,
			tuple(short("abc"), interned("abc"), unicode("abc")),
			tuple(flagged(interned("abc")), ref(0), ref(0))},
		{"one-character and empty strings are always interned", 9,
			tuple(short("{"), short(""), unicode("é")),
			tuple(interned("{"), interned(""), cat([]byte{typeInterned}, le32(2), []byte("é")))},
		{"equal tuples and numbers become one object", 11,
			tuple(tuple(integer(1), float(2.5)), tuple(integer(1), float(2.5))),
			tuple(flagged(tuple(integer(1), float(2.5))), ref(0))},
		{"singletons are never entered in the reference list", 12,
			tuple(flagged(none), flagged(short("ab")), ref(0), none),
			tuple(none, flagged(short("ab")), ref(0), none)},
		{"NaN floats keep their identity", 12,
			tuple(float(nan), float(nan)),
			tuple(float(nan), float(nan))},
		{"-0.0 and 0.0 stay apart", 12,
			tuple(float(0), float(math.Copysign(0, -1)), float(0)),
			tuple(flagged(float(0)), float(math.Copysign(0, -1)), ref(0))},
		{"lists keep their identity", 12,
			tuple(list(), list()),
			tuple(list(), list())},
		{"dict keeps its order and terminator", 9,
			cat([]byte{typeDict}, short("b"), integer(1), short("a"), integer(2), null),
			cat([]byte{typeDict}, interned("b"), integer(1), interned("a"), integer(2), null)},
		{"3.9 code object layout", 9,
			code39(tuple(none, flagged(short("doc")))),
			cat([]byte{typeCode}, le32(0), le32(0), le32(0), le32(0), le32(1), le32(0),
				cat([]byte{typeString}, le32(2), []byte{0x64, 0x00}),
				tuple(none, short("doc")), flagged(tuple()), ref(0), ref(0), ref(0),
				short("/opt/python/m.py"), interned("<module>"),
				le32(1), cat([]byte{typeString}, le32(0)))},
		{"3.14 slice constant", 14,
			tuple(cat([]byte{typeSlice}, integer(1), none, integer(1))),
			tuple(cat([]byte{typeSlice}, flagged(integer(1)), none, ref(0)))},
	}
	for _, tc := range cases {
		got, err := Canonicalize(tc.in, tc.minor)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		again, err := Canonicalize(got, tc.minor)
		if err != nil || !bytes.Equal(again, got) {
			t.Errorf("%s: canonical form is not stable: %q, %v", tc.name, again, err)
		}
	}
}

// Two equal code objects are two functions' code: they stay two, and
// share their equal parts.
func TestCanonicalizeKeepsCodeObjectsApart(t *testing.T) {
	c := code311("f", tuple(none))
	got, err := Canonicalize(tuple(c, c), 12)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(got, []byte{typeCode}); n != 2 {
		t.Errorf("two equal code objects written in full %d times, want 2: %q", n, got)
	}
	if !bytes.Contains(got, ref(0)) {
		t.Errorf("the code objects' equal parts are not shared: %q", got)
	}
}

// A set's elements come in hash order (3.9, 3.10) or in an order that
// depends on the writer's flags (3.11 on); every order of the same
// elements gives the same bytes, with sharing across elements intact.
func TestCanonicalizeOrdersSets(t *testing.T) {
	elems := [][]byte{short("b"), none, short("a"), float(1.5), tuple(short("xy"), integer(1)), tuple(short("xy"), integer(2))}
	var first []byte
	for i := range elems {
		perm := append(append([][]byte{}, elems[i:]...), elems[:i]...)
		if i%2 == 1 {
			for l, r := 0, len(perm)-1; l < r; l, r = l+1, r-1 {
				perm[l], perm[r] = perm[r], perm[l]
			}
		}
		got, err := Canonicalize(tuple(frozenset(perm...), short("xy")), 10)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = got
			if n := bytes.Count(got, []byte("xy")); n != 1 {
				t.Errorf("the shared string is written %d times in full, want once: %q", n, got)
			}
			continue
		}
		if !bytes.Equal(got, first) {
			t.Errorf("order %d gives\n%q\nwant\n%q", i, got, first)
		}
	}
}

// Malformed input is an error naming what is wrong, never a panic.
func TestCanonicalizeRefusesMalformedInput(t *testing.T) {
	deep := cat(bytes.Repeat([]byte{typeSmallTuple, 1}, maxDepth), none)
	cases := []struct {
		name  string
		minor int
		in    []byte
		want  string
	}{
		{"empty", 12, nil, "ends inside"},
		{"string cut short", 12, []byte{typeShortASCII, 5, 'a', 'b'}, "ends inside"},
		{"unknown type code", 12, []byte{'X'}, "unknown type code 0x58"},
		{"unmarshallable", 12, []byte{'?'}, "unknown type code 0x3f"},
		{"reference to nothing", 12, tuple(ref(0)), "reference 0"},
		{"reference into its own container", 12, flagged(tuple(ref(0))), "contains it"},
		{"trailing bytes", 12, cat(none, none), "1 trailing bytes"},
		{"NULL in a tuple", 12, tuple(null), "NULL object"},
		{"NULL at the top", 12, null, "NULL object"},
		{"NULL dict value", 12, cat([]byte{typeDict}, short("a"), null), "NULL value"},
		{"negative size", 12, cat([]byte{typeString}, le32(-1)), "negative size"},
		{"size past the end", 12, cat([]byte{typeTuple}, le32(1<<30)), "runs past the end"},
		{"long size out of range", 12, cat([]byte{typeLong}, le32(math.MinInt32)), "out of range"},
		{"too deep", 12, deep, "nested deeper than 2000"},
		{"slice before 3.14", 13, cat([]byte{typeSlice}, none, none, none), "3.14 added them"},
		{"code object cut short", 11, code311("f", tuple())[:40], "ends inside"},
		{"Python 3.8", 8, none, "3.8 is not supported"},
		{"Python 3.15", 15, none, "3.15 is not supported"},
	}
	for _, tc := range cases {
		got, err := Canonicalize(tc.in, tc.minor)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %q, %v; want an error saying %q", tc.name, got, err, tc.want)
		}
	}
	// Exactly at the interpreter's limit is fine.
	if _, err := Canonicalize(cat(bytes.Repeat([]byte{typeSmallTuple, 1}, maxDepth-1), none), 12); err != nil {
		t.Errorf("nesting of %d: %v", maxDepth, err)
	}
}
