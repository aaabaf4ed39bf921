"""GET /health: the function answers, and says which version is running."""

from __future__ import annotations

import os
import platform
from typing import Any

from utils.responses import json_response


def get(request: Any = None) -> dict:
    """200 with the function's name, version and Python, and whether the
    Stripe key is set (never its value)."""
    return json_response(
        200,
        {
            "status": "ok",
            "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            "version": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
            "python": platform.python_version(),
            "stripe": "configured" if os.environ.get("STRIPE_SECRET_KEY") else "not configured",
        },
    )
