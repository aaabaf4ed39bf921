"""Routing: both API Gateway payload versions, direct invocation, the
errors a client sees, and what a cold start imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest
from unittest import mock

import api
from tests.events import APP_DIR, body_json, http_v2, rest_v1
from utils import logs


def boom(request):
    raise RuntimeError("database password is hunter2")


class RoutingTest(unittest.TestCase):
    def test_health_is_reached_from_every_event_shape(self):
        events = {
            "HTTP API": http_v2("GET", "/health"),
            "HTTP API, named stage in rawPath": http_v2("GET", "/health", stage="prod"),
            "HTTP API, trailing slash": http_v2("GET", "/health/"),
            "HTTP API, routeKey only": {"routeKey": "GET /health", "requestContext": {"stage": "$default"}},
            "REST API": rest_v1("GET", "/health"),
            "REST API, lower-case method": rest_v1("get", "/health"),
        }
        for label, event in events.items():
            with self.subTest(label):
                response = api.handler(event, None)
                self.assertEqual(response["statusCode"], 200, response)
                self.assertEqual(response["headers"], {"Content-Type": "application/json"})
                self.assertEqual(body_json(response)["status"], "ok")

    def test_unknown_path_is_404_naming_it(self):
        for event in (http_v2("GET", "/photos"), rest_v1("GET", "/photos"), http_v2("GET", "/prod/health")):
            with self.subTest(path=event.get("rawPath") or event["path"]):
                response = api.handler(event, None)
                self.assertEqual(response["statusCode"], 404)
                self.assertIn("no route for /", body_json(response)["error"])

    def test_wrong_method_is_405_with_allow(self):
        response = api.handler(http_v2("DELETE", "/selftest"), None)
        self.assertEqual(response["statusCode"], 405)
        self.assertEqual(response["headers"]["Allow"], "GET, POST")
        self.assertEqual(body_json(response)["error"], "DELETE is not allowed on /selftest; use GET, POST")

    def test_bad_json_body_is_400(self):
        cases = {
            "old body form": {"body": "{not json"},
            "thumbnail, HTTP API": http_v2("POST", "/images/thumbnail", '{"image": '),
            "thumbnail, REST API": rest_v1("POST", "/images/thumbnail", "[1, 2",
                                           headers={"Content-Type": "application/json"}),
            "thumbnail, not UTF-8": http_v2("POST", "/images/thumbnail", b"\xff\xfe{}", binary=True,
                                            headers={"content-type": "application/json"}),
        }
        for label, event in cases.items():
            with self.subTest(label):
                response = api.handler(event, None)
                self.assertEqual(response["statusCode"], 400, response)
                self.assertRegex(body_json(response)["error"], r"^request body is not (valid JSON|UTF-8 text): ")

    def test_body_flagged_base64_but_not_is_400(self):
        event = http_v2("POST", "/images/thumbnail", "not base64!")
        event["isBase64Encoded"] = True
        response = api.handler(event, None)
        self.assertEqual(response["statusCode"], 400)
        self.assertIn("flagged base64", body_json(response)["error"])

    def test_event_without_route_or_test_is_404_with_a_hint(self):
        response = api.handler({"body": json.dumps({"hello": "world"})}, None)
        self.assertEqual(response["statusCode"], 404)
        self.assertIn('send {"test": "imports"}', body_json(response)["error"])

    def test_a_junk_body_does_not_break_a_route_that_ignores_it(self):
        response = api.handler(http_v2("GET", "/health", "{oops"), None)
        self.assertEqual(response["statusCode"], 200)

    def test_unexpected_error_is_500_without_detail_and_logged(self):
        routes = dict(api.ROUTES, **{"/boom": {"GET": "tests.test_api:boom"}})
        context = mock.Mock(aws_request_id="ctx-id")
        with mock.patch.object(api, "ROUTES", routes), self.assertLogs("galerly", "INFO") as captured:
            response = api.handler(http_v2("GET", "/boom"), context)
        self.assertEqual(response["statusCode"], 500)
        self.assertEqual(body_json(response), {"error": "internal error", "requestId": "req-v2"})
        self.assertNotIn("hunter2", response["body"])
        self.assertTrue(any("hunter2" in line for line in captured.output), "the log keeps the cause")

    def test_each_request_logs_one_access_line(self):
        with self.assertLogs("galerly.api", "INFO") as captured:
            api.handler(rest_v1("GET", "/nope"), None)
        self.assertEqual(len(captured.records), 1)
        self.assertRegex(captured.records[0].getMessage(), r"^GET /nope -> 404 in [0-9.]+ ms$")


class DirectInvocationTest(unittest.TestCase):
    def test_unknown_direct_event_says_what_to_send(self):
        for event in ({"action": "warm"}, [1, 2], "imports", None):
            with self.subTest(event=event), self.assertLogs("galerly", "WARNING"):
                result = api.handler(event, None)
                self.assertEqual(list(result), ["error"], "no \"ok\": it is not a self-test result")
                self.assertIn('send {"test": "imports"}', result["error"])


class HealthTest(unittest.TestCase):
    def test_reports_the_running_version_and_never_the_stripe_key(self):
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": "galerly-api-prod",
            "AWS_LAMBDA_FUNCTION_VERSION": "42",
            "STRIPE_SECRET_KEY": "sk_live_do_not_print",
        }
        with mock.patch.dict(os.environ, env), self.assertLogs("galerly", "DEBUG") as captured:
            response = api.handler(http_v2("GET", "/health"), None)
        body = body_json(response)
        self.assertEqual(body["function"], "galerly-api-prod")
        self.assertEqual(body["version"], "42")
        self.assertEqual(body["stripe"], "configured")
        self.assertNotIn("sk_live", response["body"])
        self.assertFalse(any("sk_live" in line for line in captured.output))

    def test_stripe_not_configured(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            body = body_json(api.handler(http_v2("GET", "/health"), None))
        self.assertEqual(body["stripe"], "not configured")


class ColdStartTest(unittest.TestCase):
    """A fresh interpreter, as a new Lambda container: only the stdlib and
    the routes used are imported."""

    HEAVY = ("PIL", "rawpy", "pillow_heif", "numpy", "stripe", "boto3", "botocore", "dotenv")

    def test_non_image_routes_import_no_heavy_library(self):
        script = f"""
import json, sys
import api
for event in {[http_v2("GET", "/health"), rest_v1("GET", "/nope"), {"body": "{}"}]!r}:
    api.handler(event, None)
print(json.dumps(sorted(m for m in sys.modules
                        if m.split(".")[0] in {self.HEAVY!r} or m == "handlers.images")))
"""
        proc = subprocess.run(
            [sys.executable, "-B", "-c", script], cwd=APP_DIR, capture_output=True, text=True, timeout=120,
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout), [])


class LogLevelTest(unittest.TestCase):
    def test_level_setting(self):
        cases = [
            ({}, "INFO"),
            ({"LOG_LEVEL": "debug"}, "DEBUG"),
            ({"AWS_LAMBDA_LOG_LEVEL": "WARN"}, "WARNING"),
            ({"LOG_LEVEL": "ERROR", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, "ERROR"),
            # A typo must not crash every cold start.
            ({"LOG_LEVEL": "verbose"}, "INFO"),
        ]
        for env, want in cases:
            with self.subTest(env=env), mock.patch.dict(os.environ, env, clear=True):
                self.assertEqual(logs._level(), getattr(logs.logging, want))


if __name__ == "__main__":
    unittest.main()
