"""One shape for the events the function receives.

API Gateway sends two shapes, and both reach the same routes:

- HTTP API / function URL (payload 2.0): ``rawPath``, ``routeKey``
  ("GET /health" or "$default"), ``requestContext.http.method``; rawPath
  carries the stage as its first segment unless the stage is "$default".
- REST API (payload 1.0): ``path``, ``httpMethod``, ``resource``.

The old self-test form ``{"body": "{\\"test\\": \\"rawpy\\"}"}`` is API-shaped
too, with neither method nor path. Anything else is a direct invocation.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Any

from utils.responses import BadRequest

# Keys only an API Gateway (or API-shaped) event has; a direct invocation
# such as {"test": "imports"} has none of them.
_API_KEYS = ("httpMethod", "rawPath", "routeKey", "requestContext", "body", "path", "headers")

# Content types whose body is bytes to hand over as they are, never JSON.
_BINARY_PREFIXES = ("image/", "application/octet-stream")


def is_api_event(event: Any) -> bool:
    """True when event came through API Gateway or has its shape (a "body")."""
    return isinstance(event, dict) and any(k in event for k in _API_KEYS)


@dataclass
class Request:
    """An HTTP request, whichever payload version it came in."""

    method: str = ""
    """Upper case; "" when the event names none (the old {"body": ...} form)."""
    path: str = ""
    """Without the stage, without a trailing slash; "" when the event names none."""
    headers: dict[str, str] = field(default_factory=dict)
    """Names lower-cased (REST v1 keeps the client's spelling, HTTP v2 does not)."""
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    """Decoded from base64 when API Gateway encoded it."""
    request_id: str = ""
    deadline: float | None = None
    """When the invocation times out, on time.monotonic()'s clock; None
    when the context does not say (a local run)."""
    # json()'s outcome, parsed once: the router peeks at the body for "test"
    # and the route reads it again, and an upload can be megabytes.
    _parsed: tuple[Any, BadRequest | None] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ("" when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def is_binary(self) -> bool:
        """True for an image or octet-stream upload, whose body is never JSON."""
        return self.content_type.startswith(_BINARY_PREFIXES)

    def json(self) -> Any:
        """The body parsed as JSON; None for an empty body.

        Raises BadRequest naming the problem (not UTF-8, not JSON, where).
        """
        if self._parsed is None:
            self._parsed = _parse_json(self.body)
        value, err = self._parsed
        if err is not None:
            raise err
        return value

    def json_or_none(self) -> Any:
        """The body as JSON, or None when it is empty, binary or not JSON."""
        if self.is_binary:
            return None
        try:
            return self.json()
        except BadRequest:
            return None


def _parse_json(body: bytes) -> tuple[Any, BadRequest | None]:
    if not body.strip():
        return None, None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, BadRequest(f"request body is not UTF-8 text: {err}")
    try:
        return json.loads(text), None
    except json.JSONDecodeError as err:
        return None, BadRequest(f"request body is not valid JSON: {err}")


def from_event(event: dict, context: Any = None) -> Request:
    """Build a Request from an API-shaped event.

    Raises BadRequest when the body is flagged base64 but is not.
    """
    ctx = event.get("requestContext") or {}
    http = ctx.get("http") or {}
    route_method, route_path = _split_route_key(event.get("routeKey"))

    method = http.get("method") or event.get("httpMethod") or route_method or ""
    if event.get("rawPath") or http.get("path"):
        # Payload 2.0 keeps the stage in the path unless it is "$default".
        path = _strip_stage(event.get("rawPath") or http.get("path"), ctx.get("stage"))
    else:
        # Payload 1.0 "path" is already relative to the stage.
        path = event.get("path") or route_path or ""

    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items() if v is not None}
    query = {str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items() if v is not None}
    request_id = ctx.get("requestId") or getattr(context, "aws_request_id", "") or ""
    return Request(
        method=method.upper(),
        path=_normalize(path),
        headers=headers,
        query=query,
        body=_body_bytes(event),
        request_id=request_id,
        deadline=_deadline(context),
    )


def _deadline(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        return time.monotonic() + float(remaining()) / 1000
    except (TypeError, ValueError):
        return None


def _split_route_key(route_key: Any) -> tuple[str, str]:
    """("GET", "/health") from "GET /health"; ("", "") for "$default" or a
    template ("ANY /{proxy+}"), which names no concrete path."""
    if not isinstance(route_key, str) or " " not in route_key:
        return "", ""
    method, path = route_key.split(" ", 1)
    if "{" in path:
        return "", ""
    return ("" if method == "ANY" else method), path


def _strip_stage(path: str, stage: Any) -> str:
    if isinstance(stage, str) and stage and stage != "$default":
        prefix = "/" + stage
        if path == prefix:
            return "/"
        if path.startswith(prefix + "/"):
            return path[len(prefix):]
    return path


def _normalize(path: str) -> str:
    if not path:
        return ""
    if not path.startswith("/"):
        path = "/" + path
    return path.rstrip("/") or "/"


def _body_bytes(event: dict) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if isinstance(body, (dict, list)):
        # A direct invocation may send the body already parsed.
        return json.dumps(body).encode("utf-8")
    if not isinstance(body, str):
        raise BadRequest(f"event body must be a string, not {type(body).__name__}")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as err:
            raise BadRequest(f"request body is flagged base64 but is not: {err}") from None
    return body.encode("utf-8")
