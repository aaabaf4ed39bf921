"""The "s3" input: only PHOTOS_BUCKET is read, a bad request is a 400 that
says why before anything is asked of S3, an object over the cap is refused
from its HEAD before any byte is read, and a real Canon CR2 (more than a
request can carry) becomes a thumbnail through S3.

The S3 cases run on moto_server: app_test.go starts one on 127.0.0.1 and
passes its URL in GALERLY_TEST_S3_ENDPOINT (they skip without it, or
without boto3). Debian's boto3 predates AWS_ENDPOINT_URL, so the endpoint
goes to utils/photos.make_client, the function's own client factory.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import os
import unittest
from unittest import mock

import api
from tests.events import body_json, http_v2
from tests.realimaging import missing, read_cr2, use_rawpy_over_libraw
from utils import photos

ENDPOINT = os.environ.get("GALERLY_TEST_S3_ENDPOINT", "")
BUCKET = "galerly-photos"


def thumbnail(payload) -> tuple[int, dict]:
    event = http_v2("POST", "/images/thumbnail", payload, headers={"content-type": "application/json"})
    response = api.handler(event, None)
    return response["statusCode"], body_json(response)


class RequestTest(unittest.TestCase):
    """Refusals that need no S3: no client is even made."""

    def setUp(self):
        photos.drop_clients()

    def test_bad_s3_requests_are_400(self):
        cases = [
            # (PHOTOS_BUCKET, payload, error)
            (BUCKET, {"s3": {"bucket": "someone-elses", "key": "a.cr2"}},
             "\"s3.bucket\" 'someone-elses' is not the photos bucket this function reads (PHOTOS_BUCKET); "
             "only that bucket can be read"),
            ("", {"s3": {"bucket": BUCKET, "key": "a.cr2"}},
             '"s3" input is not enabled: this function has no PHOTOS_BUCKET to read photos from'),
            (BUCKET, {"s3": "s3://galerly-photos/a.cr2"}, '"s3" must be an object like {"bucket": "...", "key": "..."}'),
            (BUCKET, {"s3": {"bucket": BUCKET}}, '"s3.key" must be an object key'),
            (BUCKET, {"s3": {"bucket": 7, "key": "a"}}, '"s3.bucket" must be a bucket name'),
            (BUCKET, {"s3": {"bucket": BUCKET, "key": "k" * 1025}}, '"s3.key" is longer than S3\'s 1024 bytes'),
            (BUCKET, {"s3": {"bucket": BUCKET, "key": "a"}, "image": "AAAA"},
             'request body has both "image" and "s3"; send one'),
            (BUCKET, {"s3": {"bucket": BUCKET, "key": "a"}, "size": 4}, "size must be between 16 and 2048, not 4"),
        ]
        for bucket, payload, error in cases:
            with self.subTest(error), mock.patch.dict(os.environ, {"PHOTOS_BUCKET": bucket}):
                with self.assertLogs("galerly", "INFO"):
                    status, body = thumbnail(payload)
                self.assertEqual((status, body), (400, {"error": error}))
        self.assertEqual(photos.drop_clients(), 0, "no S3 client was made")


NO_S3 = not (ENDPOINT and importlib.util.find_spec("boto3"))


class S3Case(unittest.TestCase):
    """A bucket on moto_server; the function's client, made by its own
    factory pointed at moto, records the S3 operations it calls."""

    @classmethod
    def setUpClass(cls):
        cls.session, cls.s3 = photos.make_client(endpoint_url=ENDPOINT)
        try:
            cls.s3.create_bucket(Bucket=BUCKET)
        except cls.s3.exceptions.BucketAlreadyOwnedByYou:
            pass

    def setUp(self):
        photos.drop_clients()
        self.calls: list[str] = []
        real = photos.make_client

        def make_client(**kw):
            session, client = real(endpoint_url=ENDPOINT, **kw)
            client.meta.events.register("before-call.s3", self.record)
            return session, client

        patches = [mock.patch.object(photos, "make_client", make_client),
                   mock.patch.dict(os.environ, {"PHOTOS_BUCKET": BUCKET})]
        for p in patches:
            p.start()
            self.addCleanup(p.stop)
        self.addCleanup(photos.drop_clients)

    def record(self, model, **kwargs):
        self.calls.append(model.name)

    def put(self, key: str, data: bytes):
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)



@unittest.skipIf(NO_S3, "needs GALERLY_TEST_S3_ENDPOINT and boto3")
class MotoTest(S3Case):
    """On moto_server, through the route."""

    def test_refusals_that_reach_s3(self):
        self.put("empty.jpg", b"")
        self.put("big.cr2", b"x" * 5000)
        cases = [
            # (key, cap, status, error, calls)
            ("nothing-here.cr2", None, 404, f"s3://{BUCKET}/nothing-here.cr2 does not exist", ["HeadObject"]),
            ("empty.jpg", None, 400, f"s3://{BUCKET}/empty.jpg is empty", ["HeadObject"]),
            ("big.cr2", 4096, 400, f"s3://{BUCKET}/big.cr2 is 5,000 bytes, more than the 4,096 allowed",
             ["HeadObject"]),
        ]
        for key, cap, status, error, calls in cases:
            with self.subTest(key):
                self.calls.clear()
                with mock.patch.object(photos, "MAX_OBJECT_BYTES", cap or photos.MAX_OBJECT_BYTES), \
                        self.assertLogs("galerly", "INFO"):
                    got = thumbnail({"s3": {"bucket": BUCKET, "key": key}})
                self.assertEqual(got, (status, {"error": error}))
                # Refused from HEAD alone: no byte of the object was read.
                self.assertEqual(self.calls, calls)

    def test_an_object_replaced_between_head_and_get_is_not_read(self):
        self.put("moving.jpg", b"first version")

        def replace(model, **kwargs):
            if model.name == "GetObject":
                self.put("moving.jpg", b"second version, another ETag")

        # The cached client the route will use, made now to hook it.
        photos._client().meta.events.register("before-call.s3.GetObject", replace)
        with self.assertLogs("galerly", "INFO"):
            status, body = thumbnail({"s3": {"bucket": BUCKET, "key": "moving.jpg"}})
        self.assertEqual((status, body), (409, {"error": f"s3://{BUCKET}/moving.jpg changed while it was being read; "
                                                         "send the request again"}))

    def test_s3_unreachable_is_a_502(self):
        with mock.patch.object(photos, "make_client", lambda **kw: _closed_port_client()), \
                self.assertLogs("galerly", "INFO"):
            status, body = thumbnail({"s3": {"bucket": BUCKET, "key": "a.jpg"}})
        self.assertEqual(status, 502)
        self.assertTrue(body["error"].startswith(f"could not read s3://{BUCKET}/a.jpg: "), body)

    def test_clients_are_dropped(self):
        self.put("x.jpg", b"not an image")
        with self.assertLogs("galerly", "INFO"):
            thumbnail({"s3": {"bucket": BUCKET, "key": "x.jpg"}})
        self.assertEqual(photos.drop_clients(), 2)  # the client and its session
        self.assertEqual(photos.drop_clients(), 0)


def _closed_port_client():
    """A client whose endpoint is a 127.0.0.1 port nothing listens on."""
    import socket

    import boto3
    from botocore.config import Config

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session = boto3.session.Session()
    return session, session.client("s3", endpoint_url=f"http://127.0.0.1:{port}",
                                   config=Config(connect_timeout=1, retries={"max_attempts": 1}))


@unittest.skipIf(NO_S3, "needs GALERLY_TEST_S3_ENDPOINT and boto3")
@unittest.skipIf(missing(), "real decoders missing: " + ", ".join(missing()))
class RealCR2ThroughS3Test(S3Case):
    """The real Canon CR2 (7.5 MB: more than a request may carry) and a
    JPEG, read from the photos bucket and decoded by the real LibRaw and
    Pillow."""

    def test_cr2_and_jpeg_from_the_photos_bucket(self):
        from PIL import Image

        use_rawpy_over_libraw()
        self.put("2009/IMG_5952.CR2", read_cr2())
        buf = io.BytesIO()
        Image.new("RGB", (640, 480), "green").save(buf, "JPEG")
        self.put("phone.jpg", buf.getvalue())
        cases = [
            ("2009/IMG_5952.CR2", 256, (256, 171),
             {"format": "RAW", "width": 3522, "height": 2348,
              "raw": {"make": "Canon", "model": "Canon EOS 30D", "via": "preview"}}),
            ("phone.jpg", 64, (64, 48), {"format": "JPEG", "width": 640, "height": 480}),
        ]
        for key, size, want, source in cases:
            with self.subTest(key), self.assertLogs("galerly", "INFO"):
                self.calls.clear()
                status, body = thumbnail({"s3": {"bucket": BUCKET, "key": key}, "size": size})
                self.assertEqual(status, 200, body)
                self.assertEqual(body["source"], source)
                img = Image.open(io.BytesIO(base64.b64decode(body["image"])))
                self.assertEqual((img.format, img.size), ("JPEG", want))
                self.assertEqual(self.calls, ["HeadObject", "GetObject"])


if __name__ == "__main__":
    unittest.main()
