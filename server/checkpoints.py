"""Signed checkpoints of the audit chains' heads, kept outside the database.

The hash chain (server/audit.py) shows an entry changed, removed or inserted in the
middle, but not a tail cut off with the head rewound to match: the shorter chain is
a valid chain. A checkpoint is the service's Ed25519 signature over a tenant's head
(tenant, seq, hash, time), made with a key that lives in a file, not in the
database, and appended to a JSON-lines file an operator ships off the box. A chain
that no longer holds an entry a checkpoint vouches for was cut: verify names the
seqs. See docs/security.md for what this proves and what it does not.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from db.connection import Connection
from server import audit
from server.audit import Anchor, Verdict
from server.database import wait_durable
from server.errors import FailedPrecondition, NotFound
from server.events import repeat
from server.queries import Q

log = logging.getLogger(__name__)

# Signed with every checkpoint, so its signature means nothing in any other context.
PURPOSE = "atomicrm-privacy audit checkpoint v1"
# One process takes checkpoints at a time (any number may try).
LOCK_KEY = 0x6175_6469_7463  # "auditc"
# Rejected checkpoints a verdict describes one by one; any more are counted.
_REJECTED_DESCRIBED = 5


def signed_bytes(tenant_id: str, seq: int, head_hash: str, at: datetime) -> bytes:
    """What a checkpoint's signature covers: canonical JSON (sorted keys, no spaces)."""
    return json.dumps(
        {
            "purpose": PURPOSE,
            "tenant_id": tenant_id,
            "seq": seq,
            "hash": head_hash,
            "at": _time_text(at),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def _time_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def key_id(public: Ed25519PublicKey) -> str:
    """A short name for a key: the start of the SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    """A tenant's chain head as the service saw it, signed."""

    tenant_id: str
    seq: int
    hash: str
    at: datetime
    key_id: str
    signature: bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "seq": self.seq,
            "hash": self.hash,
            "at": _time_text(self.at),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_line(cls, line: str) -> Checkpoint:
        """Parse one line of the checkpoint file; ValueError when it is not one."""
        try:
            d = json.loads(line)
            checkpoint = cls(
                tenant_id=d["tenant_id"],
                seq=d["seq"],
                hash=d["hash"],
                at=datetime.fromisoformat(d["at"]),
                key_id=d["key_id"],
                signature=base64.b64decode(d["signature"], validate=True),
            )
        except (KeyError, TypeError, binascii.Error) as exc:
            raise ValueError("not a checkpoint") from exc
        if not (
            isinstance(checkpoint.tenant_id, str)
            and isinstance(checkpoint.seq, int)
            and isinstance(checkpoint.hash, str)
            and isinstance(checkpoint.key_id, str)
            and checkpoint.at.tzinfo is not None
        ):
            raise ValueError("not a checkpoint")
        return checkpoint

    def verifies(self, public: Ed25519PublicKey) -> bool:
        """True when the signature is the key's over these very fields."""
        try:
            public.verify(
                self.signature, signed_bytes(self.tenant_id, self.seq, self.hash, self.at)
            )
        except InvalidSignature:
            return False
        return True


class Signer:
    """Signs chain heads with the service's private key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, tenant_id: str, seq: int, head_hash: str, at: datetime) -> Checkpoint:
        signature = self._key.sign(signed_bytes(tenant_id, seq, head_hash, at))
        return Checkpoint(tenant_id, seq, head_hash, at, self.key_id, signature)


def public_key_file(key_file: Path) -> Path:
    """Where the public key of a signing key is written: beside it, with .pub added."""
    return key_file.with_name(key_file.name + ".pub")


def public_key_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_signer(key_file: Path) -> Signer:
    """The signing key in key_file, made (mode 0600) on first use; its public key is
    written beside it (key_file + .pub) for auditors."""
    if not key_file.exists():
        _create_key(key_file)
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise FailedPrecondition(
            f"the audit signing key {key_file} cannot be read as an unencrypted PEM "
            f"private key ({type(exc).__name__}); see PRIVACY_AUDIT_SIGNING_KEY"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise FailedPrecondition(
            f"the audit signing key {key_file} is not an Ed25519 key; see PRIVACY_AUDIT_SIGNING_KEY"
        )
    signer = Signer(key)
    pub = public_key_file(key_file)
    pem = public_key_pem(signer.public_key)
    if not pub.exists() or pub.read_text() != pem:
        _write_atomically(pub, pem.encode(), mode=0o644, replace_existing=True)
    return signer


def _create_key(key_file: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Two processes starting together: the first link wins, the other reads its key.
    _write_atomically(key_file, pem, mode=0o600, replace_existing=False)
    log.warning("audit signing key created", extra={"key_file": str(key_file)})


def _write_atomically(path: Path, data: bytes, *, mode: int, replace_existing: bool) -> None:
    """Write a whole file or none of it: a temporary file, then a link (refusing an
    existing file) or a rename (replacing it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp makes the file 0600: a private key is never readable by others, even
    # for a moment.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace_existing:
            os.replace(tmp, path)
        else:
            with suppress(FileExistsError):
                os.link(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)


def load_public_key(key_file: Path, public_file: Path | None = None) -> Ed25519PublicKey | None:
    """The key to check signatures with: public_file when given; else the signing
    key's own (the private key when this host has it, else the .pub beside it);
    None when there is none."""
    try:
        if public_file is not None:
            return _public_from_pem(public_file.read_bytes(), public_file)
        if key_file.exists():
            return load_signer(key_file).public_key
        pub = public_key_file(key_file)
        return _public_from_pem(pub.read_bytes(), pub) if pub.exists() else None
    except OSError as exc:
        raise FailedPrecondition(
            f"the audit public key cannot be read ({type(exc).__name__})"
        ) from exc


def _public_from_pem(pem: bytes, source: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise FailedPrecondition(f"{source} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise FailedPrecondition(f"{source} is not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class Rejected:
    """A line of the checkpoint file that is no valid checkpoint of the tenant."""

    line: int
    seq: int | None
    reason: str

    def describe(self) -> str:
        what = f"line {self.line} of the checkpoint file"
        if self.seq is None:
            return f"{what}: {self.reason}"
        return f"{what} (seq {self.seq}): {self.reason}"


@dataclass(frozen=True)
class Reading:
    """A tenant's checkpoints in the file: the ones whose signature holds, the others."""

    valid: tuple[Checkpoint, ...]
    rejected: tuple[Rejected, ...]


@dataclass(frozen=True)
class CheckpointLog:
    """The append-only JSON-lines file of checkpoints, one object a line."""

    path: Path

    def append(self, checkpoints: Sequence[Checkpoint]) -> None:
        """Append whole lines and flush them to disk before returning."""
        if not checkpoints:
            return
        data = "".join(json.dumps(c.as_dict(), sort_keys=True) + "\n" for c in checkpoints)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        with os.fdopen(fd, "ab") as f:
            f.write(data.encode())
            f.flush()
            os.fsync(f.fileno())

    def read(self, tenant_id: str, public: Ed25519PublicKey | None) -> Reading:
        """The tenant's checkpoints, each signature checked with `public`.

        A line that is no checkpoint at all is rejected for every tenant: it may
        have been anyone's before it was altered."""
        valid: list[Checkpoint] = []
        rejected: list[Rejected] = []
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return Reading((), ())  # no checkpoint taken yet: the chain alone
        except OSError as exc:
            raise FailedPrecondition(
                f"the audit checkpoint file cannot be read ({type(exc).__name__}); see "
                "PRIVACY_AUDIT_CHECKPOINT_FILE"
            ) from exc
        want = key_id(public) if public is not None else None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                checkpoint = Checkpoint.from_line(line)
            except ValueError:
                rejected.append(Rejected(number, None, "not a checkpoint (malformed line)"))
                continue
            if checkpoint.tenant_id != tenant_id:
                continue
            if public is None:
                reason = "no public key to check its signature with"
            elif checkpoint.key_id != want:
                reason = (
                    f"signed by another key ({checkpoint.key_id}, not {want}): verify it "
                    "with that key's public key"
                )
            elif not checkpoint.verifies(public):
                reason = "its signature does not verify: forged or altered"
            else:
                valid.append(checkpoint)
                continue
            rejected.append(Rejected(number, checkpoint.seq, reason))
        return Reading(tuple(valid), tuple(rejected))


@asynccontextmanager
async def _lock(conn: Connection, *, wait: bool) -> AsyncIterator[bool]:
    """Hold the checkpoint lock (session level); yield False when busy and not waiting."""
    if wait:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    elif not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
        yield False
        return
    try:
        yield True
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def take(
    conn: Connection,
    signer: Signer,
    checkpoints: CheckpointLog,
    *,
    tenant_id: str | None = None,
    skip: Mapping[str, tuple[int, str]] | None = None,
    wait: bool = True,
) -> list[Checkpoint] | None:
    """Sign the chain heads (every tenant's, or one), append them to the file and log
    each; heads in `skip` that have not moved are left out. None when another
    process is taking checkpoints and wait is False."""
    async with _lock(conn, wait=wait) as held:
        if not held:
            return None
        heads = await conn.fetch(Q["audit_heads"], tenant_id)
        if tenant_id is not None and not heads:
            raise NotFound(f"tenant {tenant_id!r} has no audit log entries to checkpoint")
        # The heads just read may be commits not yet on disk (submissions commit
        # without waiting for the WAL flush): flush them first, so a crash cannot
        # lose an entry a checkpoint vouches for and fake a cut.
        await wait_durable(conn)
        at = datetime.now(UTC)
        signed = [
            signer.sign(h["tenant_id"], h["seq"], h["hash"], at)
            for h in heads
            if (skip or {}).get(h["tenant_id"]) != (h["seq"], h["hash"])
        ]
        await asyncio.to_thread(checkpoints.append, signed)
    for checkpoint in signed:
        # A copy for the log pipeline: a second place off the box. No personal data.
        log.info("audit checkpoint", extra={"checkpoint": checkpoint.as_dict()})
    return signed


async def run_forever(
    pool: asyncpg.Pool,
    signer: Signer,
    checkpoints: CheckpointLog,
    *,
    every: timedelta,
    stop: asyncio.Event,
) -> None:
    """Checkpoint the heads that moved, every `every`, until stop is set; one process
    at a time (the others skip their turn); a failed run is tried next time."""
    signed: dict[str, tuple[int, str]] = {}

    async def once() -> None:
        async with pool.acquire() as conn:
            taken = await take(conn, signer, checkpoints, skip=signed, wait=False)
        for c in taken or ():
            signed[c.tenant_id] = (c.seq, c.hash)

    await repeat(once, every=every, stop=stop, what="audit checkpoint", logger=log)


async def verify(
    conn: Connection,
    tenant_id: str,
    checkpoints: CheckpointLog,
    key_file: Path,
    public_file: Path | None = None,
) -> Verdict:
    """Recompute the tenant's chain and check it against its valid checkpoints; a
    checkpoint whose signature does not hold makes the verdict fail too. Signatures
    are checked with public_file, else with the signing key's public key."""

    def read() -> Reading:
        if not checkpoints.path.exists():
            return Reading((), ())  # none taken yet: the chain alone, as ever
        return checkpoints.read(tenant_id, load_public_key(key_file, public_file))

    # The file first, the chain after: every checkpoint read is of a head already
    # committed, so the chain read next must hold it.
    reading = await asyncio.to_thread(read)
    anchors = [Anchor(c.seq, c.hash, c.at) for c in reading.valid]
    verdict = await audit.verify(conn, tenant_id, anchors)
    if not reading.rejected:
        return verdict
    told = "; ".join(r.describe() for r in reading.rejected[:_REJECTED_DESCRIBED])
    if len(reading.rejected) > _REJECTED_DESCRIBED:
        told += f"; and {len(reading.rejected) - _REJECTED_DESCRIBED} more"
    problem = f"{len(reading.rejected)} checkpoint(s) rejected: {told}"
    return replace(
        verdict,
        problem=f"{verdict.problem}; {problem}" if verdict.problem else problem,
        rejected_checkpoints=len(reading.rejected),
    )
