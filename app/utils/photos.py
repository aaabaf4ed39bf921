"""Originals read from the photos bucket, for thumbnails of files larger
than a request can carry (Lambda's 6 MB): ``{"s3": {"bucket", "key"}}``.

Only the bucket named in the function's environment variable PHOTOS_BUCKET
is read (the stack's config ``photosBucket`` sets it, and grants the role
``s3:GetObject`` on that bucket's objects and nothing more). A request for
any other bucket, or any request when PHOTOS_BUCKET is unset, is a 400 that
says so: a client must not be able to point the function at a bucket of
its choosing, even one the role could read.

An object over MAX_OBJECT_BYTES is refused from its size (HEAD's
ContentLength) before any of its bytes are read; the GET is pinned to the
ETag the HEAD saw (an object replaced in between is refused, not read
unchecked) and stops reading past the cap whatever the object claims.

The S3 client is made on first use and cached; drop_clients() forgets it,
which the SnapStart restore hook calls (utils/snapstart.py): a client made
before a snapshot would carry that moment's credentials and connections
into every environment restored from it. boto3 is imported on first use.
"""

from __future__ import annotations

import os
from typing import Any

from utils.logs import get_logger
from utils.responses import BadRequest, HTTPError

log = get_logger("photos")

BUCKET_VARIABLE = "PHOTOS_BUCKET"
# Real originals are 20 to 80 MB; medium-format RAWs reach 200 MB.
MAX_OBJECT_BYTES = 200 * 1024 * 1024
MAX_KEY_BYTES = 1024  # S3's own limit
CLIP = 200  # characters of a client's key or bucket echoed in a message
READ_CHUNK = 1024 * 1024

# The cached client ("client") and the session that made it ("session").
_cache: dict[str, Any] = {}


def read(spec: Any) -> bytes:
    """The bytes of the object spec names ({"bucket", "key"}). Raises
    HTTPError: 400 for a bad spec, another bucket, no PHOTOS_BUCKET or an
    object over the cap; 404 when there is no object this function can
    read; 409 when it changed while being read; 502 when S3 fails."""
    bucket, key = _parse(spec)
    client = _client()
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"s3://{_clip(bucket)}/{_clip(key)}"
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        size = int(head.get("ContentLength", 0))
        if size > MAX_OBJECT_BYTES:
            raise BadRequest(f"{where} is {size:,} bytes, more than the {MAX_OBJECT_BYTES:,} allowed")
        if size == 0:
            raise BadRequest(f"{where} is empty")
        pinned = {"IfMatch": head["ETag"]} if head.get("ETag") else {}
        body = client.get_object(Bucket=bucket, Key=key, **pinned)["Body"]
        try:
            data = _read_capped(body, where)
        finally:
            body.close()
    except ClientError as err:
        raise _client_error(err, where) from None
    except BotoCoreError as err:
        log.error("reading %s failed: %s", where, err)
        raise HTTPError(502, f"could not read {where}: {type(err).__name__}") from None
    log.info("read %s: %d bytes", where, len(data))
    return data


def drop_clients() -> int:
    """Forget the cached client and session; returns how many were dropped."""
    dropped = len(_cache)
    _cache.clear()
    return dropped


def make_client(**overrides: Any) -> Any:
    """A new (session, S3 client) pair, with this module's timeouts and
    retries; overrides go to Session.client (the tests point endpoint_url
    at moto_server)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
    return session, session.client("s3", config=config, **overrides)


def _client() -> Any:
    if "client" not in _cache:
        _cache["session"], _cache["client"] = make_client()
    return _cache["client"]


def _parse(spec: Any) -> tuple[str, str]:
    if not isinstance(spec, dict):
        raise BadRequest('"s3" must be an object like {"bucket": "...", "key": "..."}')
    bucket, key = spec.get("bucket"), spec.get("key")
    if not isinstance(bucket, str) or not bucket:
        raise BadRequest('"s3.bucket" must be a bucket name')
    if not isinstance(key, str) or not key:
        raise BadRequest('"s3.key" must be an object key')
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise BadRequest(f'"s3.key" is longer than S3\'s {MAX_KEY_BYTES} bytes')
    allowed = os.environ.get(BUCKET_VARIABLE, "").strip()
    if not allowed:
        raise BadRequest(f'"s3" input is not enabled: this function has no {BUCKET_VARIABLE} to read photos from')
    if bucket != allowed:
        raise BadRequest(f'"s3.bucket" {_clip(bucket)!r} is not the photos bucket this function reads '
                         f"({BUCKET_VARIABLE}); only that bucket can be read")
    return bucket, key


def _read_capped(body: Any, where: str) -> bytes:
    chunks, total = [], 0
    while True:
        chunk = body.read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > MAX_OBJECT_BYTES:
            raise BadRequest(f"{where} is more than the {MAX_OBJECT_BYTES:,} bytes allowed")
        chunks.append(chunk)


def _client_error(err: Any, where: str) -> HTTPError:
    code = str(err.response.get("Error", {}).get("Code", ""))
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket") or status == 404:
        return HTTPError(404, f"{where} does not exist")
    if code in ("403", "AccessDenied", "Forbidden") or status == 403:
        # With s3:GetObject alone, S3 answers a missing key with 403 too.
        return HTTPError(404, f"{where} does not exist or this function may not read it")
    if code in ("412", "PreconditionFailed") or status == 412:
        return HTTPError(409, f"{where} changed while it was being read; send the request again")
    log.error("reading %s failed: %s", where, err)
    return HTTPError(502, f"could not read {where}: S3 answered {code or status}")


def _clip(text: str) -> str:
    return text if len(text) <= CLIP else text[:CLIP] + "..."
