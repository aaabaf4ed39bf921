"""Galerly photo API: the Lambda entry point (handler setting "api.handler").

Routes, through API Gateway (HTTP API payload 2.0, REST API payload 1.0, or
a function URL):

    GET  /health             200 {"status": "ok", "function", "version", "python", "stripe"}
    GET  /selftest           the self-test, 200 or 500 (handlers/selftest.py)
    POST /selftest           the same
    POST /images/thumbnail   a thumbnail of a base64 JPEG/PNG/WebP/HEIC (handlers/images.py)

An unknown path is a 404, a known path with another method a 405 (with
Allow), a broken request a 400, all as {"error": "<what is wrong>"}. An
unexpected exception is logged and answered with a 500 that carries the
request id and no detail.

The self-test also runs for a direct invocation ``{"test": "imports"}``
(the result dict is returned as is), for the old form with a JSON body and
no route, ``{"body": "{\\"test\\": \\"rawpy\\"}"}``, and on /selftest (both
wrapped as {"statusCode", "headers", "body"}); handlers/selftest.py has the
result's shape. A "test" body sent to any other route is that route's
business: clients cannot turn a real request into a diagnostic.

Only the stdlib is imported at cold start; each route's module is imported
when first used, and PIL, rawpy, pillow_heif and numpy only inside the
handlers that need them. The one exception is a SnapStart init
(AWS_LAMBDA_INITIALIZATION_TYPE "snap-start"), where loading this module
primes the image stack for the snapshot (utils/snapstart.py).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from typing import Any, Callable

from utils import snapstart
from utils.logs import get_logger
from utils.request import Request, from_event, is_api_event
from utils.responses import HTTPError, MethodNotAllowed, NotFound, error_response, json_response

log = get_logger("api")

# Lambda runs this as the handler module loads: the init phase, which a
# SnapStart snapshot keeps. A no-op unless the init is "snap-start".
snapstart.init()

# path -> method -> "module:function". Strings, so a route's module (and
# whatever it imports) loads only when a request needs it.
ROUTES: dict[str, dict[str, str]] = {
    "/health": {"GET": "handlers.health:get"},
    "/selftest": {"GET": "handlers.selftest:api", "POST": "handlers.selftest:api"},
    "/images/thumbnail": {"POST": "handlers.images:thumbnail"},
}

SELF_TEST_HINT = 'send {"test": "imports"} to run the self-test'


def handler(event: Any, context: Any) -> dict:
    """Lambda entry point: an API Gateway event or a direct invocation."""
    if is_api_event(event):
        return _handle_api(event, context)
    return _handle_direct(event)


def _handle_direct(event: Any) -> dict:
    if isinstance(event, dict) and "test" in event:
        log.info("direct invocation: self-test %r", event["test"])
        from handlers import selftest

        return selftest.run()
    log.warning("direct invocation not understood: %s", _shape(event))
    # No "ok": this is not a self-test result, and the smoke test tells the
    # two apart ("the handler does not run the self-test").
    return {"error": f"unsupported direct invocation ({_shape(event)}); {SELF_TEST_HINT}"}


def _handle_api(event: dict, context: Any) -> dict:
    start = time.monotonic()
    request: Request | None = None
    try:
        request = from_event(event, context)
        response = _dispatch(request)
    except HTTPError as err:
        response = error_response(err)
    except Exception:  # noqa: BLE001 - the client gets a 500, the log the traceback
        request_id = (request.request_id if request else "") or getattr(context, "aws_request_id", "")
        log.exception("unhandled error")
        response = json_response(500, {"error": "internal error", "requestId": request_id})
    log.info(
        "%s %s -> %s in %.1f ms",
        (request.method if request else "") or "-",
        (request.path if request else "") or "-",
        response.get("statusCode"),
        (time.monotonic() - start) * 1000,
    )
    return response


def _dispatch(request: Request) -> dict:
    # A "test" body runs the self-test only where no route is named (the
    # old {"body": ...} form) or on /selftest itself: a client of a real
    # route must not be able to turn its request into a diagnostic.
    if not request.path:
        body = request.json_or_none()
        if isinstance(body, dict) and "test" in body:
            from handlers import selftest

            return selftest.api(request)
    return _resolve(request)(request)


def _resolve(request: Request) -> Callable[[Request], dict]:
    if not request.path:
        # The old {"body": ...} form without "test": nothing to route by.
        # A body that is not JSON is the likelier mistake, so say that first.
        if not request.is_binary:
            request.json()
        raise NotFound(f"the event names no method and path; {SELF_TEST_HINT}")
    methods = ROUTES.get(request.path)
    if methods is None:
        raise NotFound(f"no route for {request.path}")
    target = methods.get(request.method)
    if target is None:
        raise MethodNotAllowed(request.method or "(none)", request.path, sorted(methods))
    module_name, func_name = target.split(":")
    return getattr(importlib.import_module(module_name), func_name)


def _shape(event: Any) -> str:
    if isinstance(event, dict):
        return "keys: " + (", ".join(sorted(map(str, event))) or "none")
    return type(event).__name__


def main(argv: list[str]) -> int:
    """Invoke the handler locally: ``python3 api.py '{"test": "imports"}'``
    prints the result as JSON and exits 0 when it reports success."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        # A local .env (never packed: lambdapack leaves .env files out) can
        # hold settings such as STRIPE_SECRET_KEY; python-dotenv is optional.
        from dotenv import load_dotenv

        load_dotenv()
    except ImportError:
        pass
    if len(argv) != 2:
        print("usage: python3 api.py EVENT_JSON", file=sys.stderr)
        return 2
    try:
        event = json.loads(argv[1])
    except json.JSONDecodeError as err:
        print(f"api.py: EVENT_JSON is not JSON: {err}", file=sys.stderr)
        return 2
    result = handler(event, None)
    print(json.dumps(result, indent=2))
    status = result.get("statusCode")
    ok = result.get("ok") is True if status is None else status < 400
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
