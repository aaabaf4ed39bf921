"""The RAW child's limits, sized from the function's memory: what the
decode may add to its address space, and how long it may take, never past
the invocation's own deadline."""

from __future__ import annotations

import os
import time
import unittest
from unittest import mock

from imaging import raw

MB = 2**20


class LimitsTest(unittest.TestCase):
    def test_memory_and_time_follow_the_function_memory(self):
        cases = [
            # (function MB, parent resident MB, want memory MB, want seconds)
            (1024, 200, 1024 - 96 - 200, 10 * 1769 / 1024),
            (1769, 200, 1769 - 96 - 200, 10.0),
            (3008, 200, 3008 - 96 - 200, 10 * 1769 / 3008),
            (10240, 300, 10240 - 96 - 300, raw.MIN_SECONDS),
            (128, 100, raw.MIN_DECODE_MEMORY_MB, raw.MAX_SECONDS),  # nothing left: the floor
        ]
        for function_mb, resident_mb, memory_mb, seconds in cases:
            with self.subTest(function_mb=function_mb):
                limits = raw.limits(function_mb=function_mb, resident=resident_mb * MB)
                self.assertEqual(limits.memory, memory_mb * MB)
                self.assertAlmostEqual(limits.seconds, seconds)

    def test_the_invocation_deadline_wins(self):
        limits = raw.limits(deadline=time.monotonic() + 5, function_mb=1024, resident=0)
        self.assertLess(limits.seconds, 5 - raw.DEADLINE_MARGIN_SECONDS + 0.01)
        self.assertGreater(limits.seconds, 3.5)
        self.assertEqual(raw.limits(deadline=time.monotonic(), function_mb=1024, resident=0).seconds, 0.1)

    def test_memory_size_from_the_environment(self):
        for value, want in (("2048", 2048), ("", raw.DEFAULT_MEMORY_MB), ("lots", raw.DEFAULT_MEMORY_MB),
                            ("0", raw.DEFAULT_MEMORY_MB)):
            with self.subTest(value=value), mock.patch.dict(os.environ, {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": value}):
                self.assertEqual(raw.memory_mb(), want)


if __name__ == "__main__":
    unittest.main()
