"""Page tokens (ListJobs, ListSuppressions): the last item's cursor, signed, so that
the server reads only tokens it made, and only on the listing (tenant and filter)
they came from.

A token is base64url of: a version byte, the cursor (created_at in microseconds
since the epoch, the job id or the suppression's hash) and an HMAC-SHA256 over the
listing and the cursor, keyed by a subkey of the tenant's key. Anything else, a
byte changed, cut short, written differently or signed for another listing, is
InvalidArgument naming page_token: a forged cursor never reaches the database.
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
# ListSuppressions: version, created_at in microseconds, the entry's keyed hash.
_ENTRY_CURSOR = struct.Struct(">Bq32s")
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


@dataclass(frozen=True)
class EntryCursor:
    """Where a page of suppressions ended: the last entry's creation time and hash."""

    created_at: datetime
    identifier_hash: bytes


def make(key: bytes, listing: Sequence[str], cursor: Cursor) -> str:
    """The token of the page after `cursor` in `listing` (tenant id and filter)."""
    body = _CURSOR.pack(_VERSION, _micros(cursor.created_at), cursor.job_id.bytes)
    return _seal(key, listing, body)


def read(key: bytes, listing: Sequence[str], token: str) -> Cursor:
    """The cursor of a token `make` wrote for this listing; else InvalidArgument."""
    version, micros, job_id = _CURSOR.unpack(_open(key, listing, token, _CURSOR.size, "ListJobs"))
    return Cursor(_time(version, micros, "ListJobs"), uuid.UUID(bytes=job_id))


def make_entry(key: bytes, listing: Sequence[str], cursor: EntryCursor) -> str:
    """The token of the page of suppressions after `cursor`."""
    body = _ENTRY_CURSOR.pack(_VERSION, _micros(cursor.created_at), cursor.identifier_hash)
    return _seal(key, listing, body)


def read_entry(key: bytes, listing: Sequence[str], token: str) -> EntryCursor:
    """The cursor of a token `make_entry` wrote for this listing; else InvalidArgument."""
    rpc = "ListSuppressions"
    body = _open(key, listing, token, _ENTRY_CURSOR.size, rpc)
    version, micros, identifier_hash = _ENTRY_CURSOR.unpack(body)
    return EntryCursor(_time(version, micros, rpc), identifier_hash)


def _micros(created_at: datetime) -> int:
    return (created_at - _EPOCH) // _MICROSECOND


def _seal(key: bytes, listing: Sequence[str], body: bytes) -> str:
    return base64.urlsafe_b64encode(body + _mac(key, listing, body)).decode("ascii")


def _open(key: bytes, listing: Sequence[str], token: str, size: int, rpc: str) -> bytes:
    """The signed body of a token of this listing, `size` bytes; else InvalidArgument."""
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise _refused(rpc) from None
    # The decoder skips characters outside its alphabet: only the exact text
    # `make` wrote is a token.
    if base64.urlsafe_b64encode(raw).decode("ascii") != token:
        raise _refused(rpc)
    if len(raw) != size + _MAC_BYTES:
        raise _refused(rpc)
    body, mac = raw[:size], raw[size:]
    if not hmac.compare_digest(mac, _mac(key, listing, body)):
        raise _refused(rpc)
    return body


def _time(version: int, micros: int, rpc: str) -> datetime:
    if version != _VERSION:
        raise _refused(rpc)
    try:
        return _EPOCH + micros * _MICROSECOND
    except OverflowError:  # only a token signed with our key gets here: never
        raise _refused(rpc) from None


def _mac(key: bytes, listing: Sequence[str], body: bytes) -> bytes:
    # JSON keeps the listing's parts apart ("a" + "bc" is not "ab" + "c").
    signed = json.dumps(list(listing)).encode() + b"\x00" + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def _refused(rpc: str) -> InvalidArgument:
    return InvalidArgument(
        "page_token",
        f"is not a token from {rpc} for this tenant and filter; "
        "pass next_page_token unchanged, or leave page_token empty for the first page",
    )
