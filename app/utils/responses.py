"""API Gateway responses and the errors that become them.

Every JSON response has exactly the headers {"Content-Type":
"application/json"}: the Pulumi smoke test and clients parse "body" as JSON.
"""

from __future__ import annotations

import json
from typing import Any

JSON_CONTENT_TYPE = "application/json"


class HTTPError(Exception):
    """An error a client caused or can act on; api.handler turns it into a
    JSON response {"error": message} with this status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class BadRequest(HTTPError):
    """400: the request body or a parameter is wrong."""

    def __init__(self, message: str):
        super().__init__(400, message)


class NotFound(HTTPError):
    """404: no route matches the path."""

    def __init__(self, message: str):
        super().__init__(404, message)


class MethodNotAllowed(HTTPError):
    """405: the path exists but not with this method; Allow lists those that do."""

    def __init__(self, method: str, path: str, allowed: list[str]):
        super().__init__(
            405,
            f"{method} is not allowed on {path}; use {', '.join(allowed)}",
            {"Allow": ", ".join(allowed)},
        )


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> dict:
    """An API Gateway (REST v1 or HTTP v2) response whose body is payload as JSON."""
    all_headers = {"Content-Type": JSON_CONTENT_TYPE}
    all_headers.update(headers or {})
    return {"statusCode": status, "headers": all_headers, "body": json.dumps(payload)}


def error_response(err: HTTPError) -> dict:
    """The response for err: {"error": "<message>"} with its status and headers."""
    return json_response(err.status, {"error": err.message}, err.headers)
