package bytecode

import (
	"path"
	"strconv"
	"strings"

	"github.com/galerly/galerly-lambda/build/target"
)

// PycName returns where the interpreter of rt looks for the bytecode of the
// module file srcPath (a slash-separated path, as in a zip): the PEP 3147
// name importlib.util.cache_from_source gives, "a/b.py" becomes
// "a/__pycache__/b.cpython-312.pyc" and "a/__init__.py" becomes
// "a/__pycache__/__init__.cpython-312.pyc". It returns "" for a path the
// import system never compiles: not ending in ".py", or named just ".py".
// The name depends on rt alone, so it is known without an interpreter.
func PycName(srcPath string, rt target.Runtime) string {
	if !IsSource(srcPath) {
		return ""
	}
	dir, file := path.Split(srcPath)
	return dir + "__pycache__/" + strings.TrimSuffix(file, ".py") + "." + CacheTag(rt) + ".pyc"
}

// IsSource reports whether the file at srcPath (slash-separated) is a
// module the import system compiles, so one that gets bytecode: its name
// ends in ".py" and is not just ".py".
func IsSource(srcPath string) bool {
	_, file := path.Split(srcPath) // "" for a folder ("a/b/"), unlike path.Base
	stem, ok := strings.CutSuffix(file, ".py")
	return ok && stem != ""
}

// CacheTag returns the sys.implementation.cache_tag of CPython for rt,
// e.g. "cpython-312".
func CacheTag(rt target.Runtime) string { return "cpython-3" + strconv.Itoa(rt.Minor) }
