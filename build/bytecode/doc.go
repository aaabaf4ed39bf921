// Package bytecode compiles Python sources into the .pyc files a Lambda
// runtime loads instead of compiling at every cold start.
//
// Bytecode is specific to a Python minor version, so each runtime's is
// written by a CPython of that version: Find locates one (--python, PATH,
// pyenv, uv) and checks its magic number against FinalMagic. A Compiler
// runs it as one long-lived process that sources are streamed to, its
// memory capped (MemoryLimit), sources over MaxSourceBytes left out.
//
// Nothing here can hang a build: every program run (a candidate, pyenv,
// uv, a compiler) is in a process group of its own, within the caller's
// context and, for a probe, ProbeTimeout; the group is killed when the
// context ends and as the program exits, so no child it started outlives
// it or holds its output open.
//
// Every .pyc is PEP 552 unchecked-hash (the artifact is immutable, so the
// source is never re-read at import) and names its run-time path
// (/opt/python/..., /var/task/...) as the code's filename. Its bytes
// depend only on the source, the run-time path and the interpreter
// version: Canonicalize removes what marshal.dumps lets the compiling
// process's history decide.
package bytecode
