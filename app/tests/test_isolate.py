"""The child process a RAW is decoded in: its answer comes back whole; a
crash, an allocation past the memory limit, a decode past the time limit,
an exception or an exit without answering each end as a ChildFailed that
names it; the parent is never touched and leaves no child behind; and the
next run works. Stdlib only, real processes and real limits."""

from __future__ import annotations

import os
import signal
import sys
import time
import unittest

from imaging import isolate

GENEROUS = isolate.Limits(memory=512 * 2**20, seconds=30)


def answer(text: str, size: int) -> isolate.Answer:
    return {"text": text, "pid": os.getpid()}, b"x" * size


def segfault() -> isolate.Answer:
    os.kill(os.getpid(), signal.SIGSEGV)
    return {}, b""


def abort() -> isolate.Answer:
    os.abort()


def allocate(mb: int) -> isolate.Answer:
    block = bytearray(mb * 2**20)
    return {"allocated": len(block)}, b""


def sleep(seconds: float) -> isolate.Answer:
    time.sleep(seconds)
    return {}, b""


def spin() -> isolate.Answer:
    while True:
        pass


def fail() -> isolate.Answer:
    raise ValueError("bad pixels")


def exit_silently() -> isolate.Answer:
    sys.exit(0)  # SystemExit: the child must not return into the caller


def oversized() -> isolate.Answer:
    return {}, b"y" * (2 * 2**20)


class IsolateTest(unittest.TestCase):
    def assertNoChildren(self):
        with self.assertRaises(ChildProcessError):
            os.waitpid(-1, os.WNOHANG)

    def test_answer_comes_back_from_another_process(self):
        for size in (0, 10, 3 * 2**20):  # larger than a pipe's buffer
            with self.subTest(size=size):
                meta, payload = isolate.run(answer, "hello", size, limits=GENEROUS)
                self.assertEqual(meta["text"], "hello")
                self.assertNotEqual(meta["pid"], os.getpid())
                self.assertEqual(payload, b"x" * size)
        self.assertNoChildren()

    def test_each_failure_is_named_and_the_next_run_works(self):
        parent = os.getpid()
        cases = [
            # (function, args, limits, kind, message)
            (segfault, (), GENEROUS, "crashed", "the decoder crashed (SIGSEGV)"),
            (abort, (), GENEROUS, "crashed", "the decoder crashed (SIGABRT)"),
            (allocate, (256,), isolate.Limits(memory=64 * 2**20, seconds=30), "memory",
             "the decoder needed more than the 64 MB of memory allowed"),
            (sleep, (30,), isolate.Limits(memory=GENEROUS.memory, seconds=0.2), "timeout",
             "the decoder took longer than the 0.2 s allowed and was stopped"),
            (spin, (), isolate.Limits(memory=GENEROUS.memory, seconds=0.2), "timeout",
             "the decoder took longer than the 0.2 s allowed and was stopped"),
            (fail, (), GENEROUS, "error", "the decoder failed: ValueError: bad pixels"),
            (exit_silently, (), GENEROUS, "no-answer", "the decoder stopped without an answer (exit status 87)"),
        ]
        for func, args, limits, kind, message in cases:
            with self.subTest(func.__name__):
                start = time.monotonic()
                with self.assertRaises(isolate.ChildFailed) as caught:
                    isolate.run(func, *args, limits=limits, what="the decoder")
                self.assertEqual(os.getpid(), parent)
                self.assertEqual((caught.exception.kind, caught.exception.message), (kind, message))
                self.assertLess(time.monotonic() - start, 20)
                self.assertNoChildren()
                # The same process serves the next request as usual.
                self.assertEqual(isolate.run(answer, "next", 1, limits=GENEROUS)[0]["text"], "next")

    def test_the_memory_limit_is_on_growth_not_inherited_memory(self):
        # The parent holds 300 MB; the child may still add its 64 MB.
        held = bytearray(300 * 2**20)
        meta, _ = isolate.run(allocate, 32, limits=isolate.Limits(memory=64 * 2**20, seconds=30))
        self.assertEqual(meta["allocated"], 32 * 2**20)
        del held

    def test_an_answer_over_the_cap_is_refused(self):
        with self.assertRaises(isolate.ChildFailed) as caught:
            isolate.run(oversized, limits=GENEROUS, what="the decoder", max_answer=2**20)
        self.assertEqual((caught.exception.kind, caught.exception.message),
                         ("no-answer", "the decoder answered with more than the 1,048,576 bytes allowed"))
        self.assertNoChildren()

    def test_resident_bytes(self):
        self.assertGreater(isolate.resident_bytes(), 1 * 2**20)


if __name__ == "__main__":
    unittest.main()
