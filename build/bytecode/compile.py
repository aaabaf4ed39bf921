# The compiler process: run with -c by Compiler, once per interpreter.
# Only built-in modules are used (importlib's bootstrap is already loaded),
# so nothing on sys.path is imported.
#
# Protocol, all integers little-endian u32:
#   started:  out  b"ok" + MAGIC_NUMBER
#   request:  in   len(path) path len(source) source
#   response: out  b"P" len(pyc) pyc       compiled
#                  b"S" len(reason) reason  does not compile (UTF-8, one line)
# EOF on stdin ends the process with status 0.
import sys, marshal, _imp

# -c puts the working directory first on sys.path; a codec compile() may
# import for an encoding declaration must come from the interpreter only.
sys.path[:] = [p for p in sys.path if p]

ext = sys.modules['_frozen_importlib_external']
MAGIC = ext.MAGIC_NUMBER
RAW_MAGIC = ext._RAW_MAGIC_NUMBER
FLAGS = (1).to_bytes(4, 'little')  # PEP 552: hash-based, check_source off

stdin = sys.stdin.buffer
stdout = sys.stdout.buffer
# Whatever else prints goes to stderr and cannot corrupt the protocol.
sys.stdout = sys.stderr


def read_exact(n):
    b = stdin.read(n)
    if len(b) != n:
        if not b:
            return None
        raise SystemExit('compiler: request cut short (%d of %d bytes)' % (len(b), n))
    return b


def read_blob():
    h = read_exact(4)
    if h is None:
        return None
    n = int.from_bytes(h, 'little')
    return read_exact(n) if n else b''


def reply(kind, payload):
    stdout.write(kind + len(payload).to_bytes(4, 'little'))
    stdout.write(payload)
    stdout.flush()


stdout.write(b'ok' + MAGIC)
stdout.flush()
while True:
    path = read_blob()
    if path is None:
        break
    source = read_blob()
    if source is None:
        raise SystemExit('compiler: request cut short (no source)')
    path = path.decode('utf-8', 'surrogateescape')
    try:
        code = compile(source, path, 'exec', dont_inherit=True, optimize=0)
        body = marshal.dumps(code)
    except Exception as e:
        # SyntaxError, ValueError (NUL bytes), bad encoding declarations,
        # RecursionError and MemoryError for absurd input: the source is
        # left without bytecode, as pip and compileall leave it.
        msg = ' '.join(str(e).split())
        msg = type(e).__name__ + (': ' + msg if msg else '')
        reply(b'S', msg[:500].encode('utf-8', 'replace'))
        continue
    finally:
        code = None
    reply(b'P', MAGIC + FLAGS + _imp.source_hash(RAW_MAGIC, source) + body)
