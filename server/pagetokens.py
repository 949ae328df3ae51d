"""ListJobs page tokens: the last job's cursor, signed, so that the server reads only
tokens it made, and only on the listing (tenant and filter) they came from.

A token is base64url of: a version byte, the cursor (created_at in microseconds
since the epoch, the job id) and an HMAC-SHA256 over the listing and the cursor,
keyed by a subkey of the tenant's key. Anything else, a byte changed, cut short,
written differently or signed for another listing, is InvalidArgument naming
page_token: a forged cursor never reaches the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from server.errors import InvalidArgument

_VERSION = 1
_CURSOR = struct.Struct(">Bq16s")  # version, created_at in microseconds, job id
_MAC_BYTES = hashlib.sha256().digest_size
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# The tenant's key also keys subject hashes: page tokens get their own subkey, so
# no MAC of one kind can stand for the other.
_SUBKEY_LABEL = b"atomicrm.privacy ListJobs page_token"


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last job's creation time and id (the listing's order)."""

    created_at: datetime
    job_id: uuid.UUID


def signing_key(tenant_key: bytes) -> bytes:
    """The page-token key derived from a tenant's key."""
    return hmac.new(tenant_key, _SUBKEY_LABEL, hashlib.sha256).digest()


def make(key: bytes, listing: Sequence[str], cursor: Cursor) -> str:
    """The token of the page after `cursor` in `listing` (tenant id and filter)."""
    micros = (cursor.created_at - _EPOCH) // _MICROSECOND
    body = _CURSOR.pack(_VERSION, micros, cursor.job_id.bytes)
    return base64.urlsafe_b64encode(body + _mac(key, listing, body)).decode("ascii")


def read(key: bytes, listing: Sequence[str], token: str) -> Cursor:
    """The cursor of a token `make` wrote for this listing; else InvalidArgument."""
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise _refused() from None
    # The decoder skips characters outside its alphabet: only the exact text
    # `make` wrote is a token.
    if base64.urlsafe_b64encode(raw).decode("ascii") != token:
        raise _refused()
    if len(raw) != _CURSOR.size + _MAC_BYTES:
        raise _refused()
    body, mac = raw[: _CURSOR.size], raw[_CURSOR.size :]
    if not hmac.compare_digest(mac, _mac(key, listing, body)):
        raise _refused()
    version, micros, job_id = _CURSOR.unpack(body)
    if version != _VERSION:
        raise _refused()
    try:
        created_at = _EPOCH + micros * _MICROSECOND
    except OverflowError:  # only a token signed with our key gets here: never
        raise _refused() from None
    return Cursor(created_at, uuid.UUID(bytes=job_id))


def _mac(key: bytes, listing: Sequence[str], body: bytes) -> bytes:
    # JSON keeps the listing's parts apart ("a" + "bc" is not "ab" + "c").
    signed = json.dumps(list(listing)).encode() + b"\x00" + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def _refused() -> InvalidArgument:
    return InvalidArgument(
        "page_token",
        "is not a token from ListJobs for this tenant and filter; "
        "pass next_page_token unchanged, or leave page_token empty for the first page",
    )
