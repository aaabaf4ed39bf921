"""Run one function in a forked child process, with an address-space limit
and a time limit, and get its answer back over a pipe.

Why a child: decoding a camera RAW runs LibRaw, a large C++ decoder, on
untrusted uploads. A crash there (LibRaw has had memory-safety bugs, the
TALOS reports fixed in 0.22.1 among them), a decode that allocates without
bound, or one that never ends must cost one answer, not the warm
environment: the parent survives, says what happened, and serves the next
request.

Why fork and a pipe: Lambda has no /dev/shm, so multiprocessing's queues
and locks (POSIX semaphores) fail there; a plain os.fork() and os.pipe()
need neither. The child inherits everything the parent has imported (rawpy,
numpy, PIL: nothing is imported again per request) and the input bytes
(copy-on-write, so a 200 MB original is not copied).

The answer is data, never code: a JSON header and a byte payload. A child
that a LibRaw bug let an attacker control can send the parent nothing but
bytes to read, and at most max_answer of them.

Limits, set in the child right after the fork:

- RLIMIT_AS: the address space the child inherited plus ``Limits.memory``
  bytes. Reserved-but-unused space (thread stacks, malloc arenas) counts,
  so this is an upper bound on what the child adds to the function's
  memory. A failed allocation surfaces as MemoryError (Python, numpy) or
  LibRawUnsufficientMemoryError; the callee reports it (see ``Answer``).
- the time limit: the parent waits at most ``Limits.seconds`` for the
  answer, then kills the child (SIGKILL) and reaps it. RLIMIT_CPU backs it
  up should the parent itself be gone.
- RLIMIT_CORE 0: a crash writes no core file into /tmp.

Stdlib only.
"""

from __future__ import annotations

import json
import math
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

# The answer frame: 4-byte header length, 4-byte payload length, header (JSON), payload.
_FRAME = struct.Struct(">II")
# A child that cannot even allocate its answer exits with this status.
_EXIT_NO_MEMORY = 86
_EXIT_NO_ANSWER = 87
# How long to wait for a child that has answered (or closed its pipe) to exit.
_REAP_SECONDS = 5.0

DEFAULT_MAX_ANSWER = 32 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one child may use."""

    memory: int
    """Bytes the child may add to the address space it inherited."""
    seconds: float
    """Wall-clock seconds until the parent kills it."""


class ChildFailed(Exception):
    """The child gave no answer; ``kind`` says why, the message names it
    for a person: "crashed", "memory", "timeout", "error" (an exception
    the callee did not handle) or "no-answer"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


Answer = tuple[dict, bytes]
"""What the function run in the child returns: a JSON-able dict and bytes."""


def run(func: Callable[..., Answer], *args: Any, limits: Limits, what: str = "the child",
        max_answer: int = DEFAULT_MAX_ANSWER) -> Answer:
    """Call func(*args) in a forked child under limits and return its
    answer. Raises ChildFailed when the child crashed, ran out of memory
    (MemoryError), ran out of time, raised, or ended without answering;
    ``what`` names the child in those messages ("the RAW decoder")."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's stack
        status = _EXIT_NO_ANSWER
        try:
            os.close(read_fd)
            status = _child(func, args, limits, write_fd)
        finally:
            os._exit(status)
    os.close(write_fd)
    reaped = False
    try:
        deadline = time.monotonic() + limits.seconds
        data, timed_out, oversized = _read_answer(read_fd, deadline, max_answer)
        if timed_out or oversized:
            os.kill(pid, signal.SIGKILL)
        status = _reap(pid, timed_out or oversized)
        reaped = True
    finally:
        os.close(read_fd)
        if not reaped:  # the parent was interrupted: leave no child behind
            _kill_and_reap(pid)
    if oversized:
        raise ChildFailed("no-answer", f"{what} answered with more than the {max_answer:,} bytes allowed")
    if timed_out:
        raise ChildFailed("timeout", f"{what} took longer than the {_seconds(limits.seconds)} allowed and was stopped")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            raise ChildFailed("timeout", f"{what} used more than its CPU time limit and was stopped")
        raise ChildFailed("crashed", f"{what} crashed ({_signal_name(sig)})")
    code = os.WEXITSTATUS(status)
    if code == _EXIT_NO_MEMORY:
        raise ChildFailed("memory", f"{what} needed more than the {limits.memory / 2**20:,.0f} MB of memory allowed")
    answer = _parse(data, max_answer)
    if answer is None:
        raise ChildFailed("no-answer", f"{what} stopped without an answer (exit status {code})")
    header, payload = answer
    failure = header.get("failed")
    if failure == "memory":
        raise ChildFailed("memory", f"{what} needed more than the {limits.memory / 2**20:,.0f} MB of memory allowed")
    if failure is not None:
        raise ChildFailed("error", f"{what} failed: {header.get('error', 'unknown error')}")
    return header.get("answer", {}), payload


def _child(func: Callable[..., Answer], args: tuple, limits: Limits, write_fd: int) -> int:
    """Set the limits, run func, write its answer; the exit status."""
    try:
        _set_limits(limits)
        try:
            meta, payload = func(*args)
            header = {"answer": meta}
        except MemoryError:
            header, payload = {"failed": "memory"}, b""
        except Exception as err:  # noqa: BLE001 - reported to the parent, which decides
            traceback.print_exc()
            header, payload = {"failed": "error", "error": f"{type(err).__name__}: {err}"}, b""
        head = json.dumps(header).encode("utf-8")
        _write_all(write_fd, _FRAME.pack(len(head), len(payload)) + head)
        _write_all(write_fd, payload)
        return 0
    except MemoryError:
        return _EXIT_NO_MEMORY
    except BaseException:  # noqa: BLE001 - anything else: no answer, the parent says so
        try:
            traceback.print_exc()
        finally:
            return _EXIT_NO_ANSWER  # noqa: B012 - the status is the child's last word
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass


def _set_limits(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # The backstop counts every thread's CPU time (LibRaw uses OpenMP).
    cpu = math.ceil(limits.seconds * (os.cpu_count() or 1)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    limit = _address_space() + max(0, int(limits.memory))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _address_space() -> int:
    """This process's address-space size in bytes (VmSize)."""
    with open("/proc/self/statm", "rb") as f:
        pages = int(f.read().split()[0])
    return pages * resource.getpagesize()


def resident_bytes() -> int:
    """This process's resident memory in bytes (VmRSS), 0 where unknown."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_answer(fd: int, deadline: float, max_answer: int) -> tuple[bytes, bool, bool]:
    """Everything the child writes until it closes the pipe, at most
    max_answer and a header; (data, timed out, more than that)."""
    chunks: list[bytes] = []
    total = 0
    limit = _FRAME.size + 64 * 1024 + max_answer  # header JSON is small
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), True, False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1024 * 1024)
        if not chunk:
            return b"".join(chunks), False, False
        total += len(chunk)
        if total > limit:
            # More than any honest answer: stop reading.
            return b"", False, True
        chunks.append(chunk)


def _parse(data: bytes, max_answer: int) -> tuple[dict, bytes] | None:
    if len(data) < _FRAME.size:
        return None
    head_len, payload_len = _FRAME.unpack_from(data)
    if payload_len > max_answer or len(data) != _FRAME.size + head_len + payload_len:
        return None
    try:
        header = json.loads(data[_FRAME.size:_FRAME.size + head_len])
    except ValueError:
        return None
    if not isinstance(header, dict):
        return None
    return header, data[_FRAME.size + head_len:]


def _reap(pid: int, killed: bool) -> int:
    """Wait for the child; kill it if it lingers after closing its pipe."""
    deadline = time.monotonic() + _REAP_SECONDS
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if killed or time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.001)


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _seconds(seconds: float) -> str:
    return f"{seconds:.3g} s"
