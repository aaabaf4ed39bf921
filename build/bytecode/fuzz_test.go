package bytecode

import (
	"bytes"
	"testing"
)

// The bytes Canonicalize reads come from an interpreter process, which a
// broken or hostile interpreter controls: whatever they are, it must not
// panic, and what it accepts it must write as a stable canonical form of
// the same value. The seed corpus in testdata/fuzz holds real marshalled
// modules from 3.9 to 3.13 (testdata/make_seeds.py).
func FuzzCanonicalize(f *testing.F) {
	f.Add(tuple(flagged(short("unused")), flagged(short("used")), ref(1)), uint8(12))
	f.Add(tuple(frozenset(tuple(flagged(short("xy")), integer(1)), tuple(ref(0), integer(2))), short("xy")), uint8(11))
	f.Add(tuple(cat([]byte{typeSlice}, integer(1), none, integer(1))), uint8(14))
	f.Add(code311("f", tuple(none, flagged(float(1.5)), ref(0))), uint8(13))
	f.Add(code39(tuple(none, short("doc"))), uint8(9))
	f.Add(cat([]byte{typeDict}, short("b"), integer(1), null), uint8(10))
	f.Fuzz(func(t *testing.T, data []byte, m uint8) {
		minor := int(m)
		if minor < 9 || minor > 14 {
			minor = 9 + minor%6
		}
		out, err := Canonicalize(data, minor)
		if err != nil {
			return
		}
		again, err := Canonicalize(out, minor)
		if err != nil {
			t.Fatalf("canonical output does not parse: %v\nin:  %q\nout: %q", err, data, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("canonical form is not stable\nin:    %q\nout:   %q\nagain: %q", data, out, again)
		}
		in, _ := parseMarshal(data, minor)
		canon, err := parseMarshal(out, minor)
		if err != nil {
			t.Fatal(err)
		}
		if *in.valueDigest() != *canon.valueDigest() {
			t.Fatalf("canonical form holds another value\nin:  %q\nout: %q", data, out)
		}
	})
}
