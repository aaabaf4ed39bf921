"""Logging for the function: one logger tree named "galerly".

Lambda's Python runtime installs its own handler on the root logger (it adds
the time, level and request id), so these loggers only set a level and let
records propagate to it. Locally, ``python3 api.py`` calls logging.basicConfig.
"""

from __future__ import annotations

import logging
import os

ROOT = "galerly"


def get_logger(name: str) -> logging.Logger:
    """Return the logger galerly.<name>, with the tree's level set once.

    The level comes from LOG_LEVEL, else AWS_LAMBDA_LOG_LEVEL (set by
    Lambda's advanced logging controls), else INFO: the root logger of the
    Lambda runtime stays at WARNING otherwise, which would drop the
    self-test's per-package lines.
    """
    root = logging.getLogger(ROOT)
    if root.level == logging.NOTSET:
        root.setLevel(_level())
    return logging.getLogger(f"{ROOT}.{name}")


def _level() -> int:
    for var in ("LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"):
        name = os.environ.get(var, "").strip().upper()
        level = logging.getLevelName(name) if name else None
        # getLevelName maps unknown names to the string "Level X"; a typo in
        # the setting must not crash every cold start, so it falls through.
        if isinstance(level, int):
            return level
    return logging.INFO
