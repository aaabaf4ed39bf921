// Package bytecode compiles Python sources into the .pyc files a Lambda
// runtime loads instead of compiling at every cold start.
//
// Bytecode is specific to a Python minor version, so each runtime's is
// written by a CPython of that version: Find locates one (--python, PATH,
// pyenv, uv) and checks its magic number against FinalMagic. A Compiler
// runs it as one long-lived process that sources are streamed to.
//
// Every .pyc is PEP 552 unchecked-hash (the artifact is immutable, so the
// source is never re-read at import) and names its run-time path
// (/opt/python/..., /var/task/...) as the code's filename. Its bytes
// depend only on the source, the run-time path and the interpreter
// version: Canonicalize removes what marshal.dumps lets the compiling
// process's history decide.
package bytecode
