"""API Gateway events as Lambda delivers them, for the tests."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

APP_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def http_v2(method: str, path: str, body: Any = None, *, stage: str = "$default",
            headers: dict | None = None, query: dict | None = None, binary: bool = False,
            route_key: str | None = None) -> dict:
    """An HTTP API (payload 2.0) event. body: a dict/list is sent as JSON,
    bytes with binary=True are base64-encoded as API Gateway does."""
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event = {
        "version": "2.0",
        "routeKey": route_key or "$default",
        "rawPath": raw_path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1"},
            "requestId": "req-v2",
            "stage": stage,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    _set_body(event, body, binary)
    return event


def rest_v1(method: str, path: str, body: Any = None, *, headers: dict | None = None,
            query: dict | None = None, binary: bool = False) -> dict:
    """A REST API (payload 1.0) event; its path is relative to the stage."""
    event = {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": dict(headers or {}),
        "queryStringParameters": dict(query) if query else None,
        "requestContext": {"requestId": "req-v1", "stage": "prod", "path": "/prod" + path},
        "body": None,
        "isBase64Encoded": False,
    }
    _set_body(event, body, binary)
    return event


def _set_body(event: dict, body: Any, binary: bool) -> None:
    if body is None:
        return
    if binary:
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    elif isinstance(body, (dict, list)):
        event["body"] = json.dumps(body)
    else:
        event["body"] = body


def body_json(response: dict) -> Any:
    """The JSON body of an API response."""
    return json.loads(response["body"])
