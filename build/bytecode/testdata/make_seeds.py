# Writes fuzz seeds for FuzzCanonicalize: the marshalled code of a module
# using most of the language, from the interpreter that runs this script,
# once as a fresh process writes it and once with earlier code kept alive
# (so that objects carry FLAG_REF without being referenced).
#
#   for v in 3.9.18 3.10.13 3.11.7 3.12.1 3.13.0; do
#     PYTHONHASHSEED=0 $(pyenv prefix $v)/bin/python3 -S testdata/make_seeds.py testdata/fuzz/FuzzCanonicalize
#   done
import marshal, os, sys

SRC = '''
"""Module docstring."""
import os as _os
from typing import Any
BIG = 1_000_000_000_000_000_000_000_000
NEG = -2 ** 70
VALUES = (1.5, -0.0, 2j, b"\\x00bytes", "\\u00e9t\\u00e9", "{", "", None, True, False, ..., frozenset())
def f(a, /, b=2, *args, c, d=4, **kw):
    cell = [1]
    def g():
        return cell, a
    return a in {"x", "y", None, 1.5, (1, "x")}, g, lambda q: q * 2
class K(Any):
    attr: int = 3
    def m(self):
        return [i for i in range(3) if i not in (1, 2)], {k: v for k, v in zip("ab", "cd")}
async def co(x):
    async with x as y:
        await y
    async for z in x:
        yield z
try:
    pass
except (ValueError, TypeError) as e:
    raise RuntimeError("again") from e
finally:
    print(f"{VALUES[0]!r:>10} and {BIG}")
'''
EXTRA = {
    10: 'match VALUES:\n    case (1.5, *rest):\n        pass\n    case {"k": v}:\n        pass\n',
    11: 'try:\n    pass\nexcept* ValueError:\n    pass\n',
    12: 'type Alias[T] = list[T]\ndef h[T](x: T) -> T:\n    return x\n',
}
minor = sys.version_info[1]
src = SRC + ''.join(v for m, v in EXTRA.items() if minor >= m)
fresh = marshal.dumps(compile(src, '/opt/python/seed.py', 'exec', dont_inherit=True, optimize=0))
keep = [compile(src, '/opt/python/seed.py', 'exec', dont_inherit=True, optimize=0)]
kept = marshal.dumps(compile(src, '/opt/python/seed.py', 'exec', dont_inherit=True, optimize=0))


def quote(b):
    out = []
    for c in b:
        if c == 0x22 or c == 0x5c:
            out.append('\\' + chr(c))
        elif 0x20 <= c < 0x7f:
            out.append(chr(c))
        else:
            out.append('\\x%02x' % c)
    return '"' + ''.join(out) + '"'


for name, data in (('fresh', fresh), ('kept', kept)):
    path = os.path.join(sys.argv[1], 'py3%d-%s' % (minor, name))
    with open(path, 'w') as f:
        f.write('go test fuzz v1\n[]byte(%s)\nuint8(%d)\n' % (quote(data), minor))
