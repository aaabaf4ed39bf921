package bytecode

import (
	"encoding/json"
	"testing"

	"github.com/galerly/galerly-lambda/build/target"
)

var pycNameCases = []struct {
	src   string
	minor int
	want  string
}{
	{"python/pkg/mod.py", 12, "python/pkg/__pycache__/mod.cpython-312.pyc"},
	{"python/pkg/__init__.py", 11, "python/pkg/__pycache__/__init__.cpython-311.pyc"},
	{"handler.py", 9, "__pycache__/handler.cpython-39.pyc"},
	{"python/lib/python3.13/site-packages/a/b.c.py", 13, "python/lib/python3.13/site-packages/a/__pycache__/b.c.cpython-313.pyc"},
	{"python/six.py", 14, "python/__pycache__/six.cpython-314.pyc"},
	{"python/pkg/mod.pyc", 12, ""},
	{"python/pkg/mod.pyi", 12, ""},
	{"python/pkg/_speedups.cpython-312-x86_64-linux-gnu.so", 12, ""},
	{"python/pkg/MOD.PY", 12, ""},
	{"python/pkg/.py", 12, ""},
	{"python/pkg/README", 12, ""},
	{"python/pkg.py/", 12, ""},
}

func TestPycName(t *testing.T) {
	for _, tc := range pycNameCases {
		if got := PycName(tc.src, target.Runtime{Minor: tc.minor}); got != tc.want {
			t.Errorf("PycName(%q, 3.%d) = %q, want %q", tc.src, tc.minor, got, tc.want)
		}
	}
}

// PycName must agree with where the interpreter looks.
func TestPycNameIsWhereImportlibLooks(t *testing.T) {
	for _, minor := range testMinors {
		in := interpreter(t, minor)
		var srcs []string
		for _, tc := range pycNameCases {
			if tc.want != "" {
				srcs = append(srcs, tc.src)
			}
		}
		b, _ := json.Marshal(srcs)
		out := runPython(t, in, nil, `import sys, json, importlib.util
print(json.dumps([importlib.util.cache_from_source(p) for p in json.loads(sys.argv[1])]))`, string(b))
		var want []string
		if err := json.Unmarshal([]byte(out), &want); err != nil {
			t.Fatal(err)
		}
		for i, src := range srcs {
			if got := PycName(src, in.Runtime); got != want[i] {
				t.Errorf("%s: PycName(%q) = %q, importlib.util.cache_from_source gives %q", in, src, got, want[i])
			}
		}
	}
	if got := CacheTag(target.Runtime{Minor: 12}); got != "cpython-312" {
		t.Errorf("CacheTag = %q", got)
	}
}
