"""The keyring: the one secret kept outside the database.

Each tenant has a random key (subject hashes in the audit log and holds, consistent
fakes, the token index of files). The database stores it only wrapped, that is
encrypted with AES-256-GCM under the keyring's key, which lives in a file
(`PRIVACY_KEYRING`, by default `<data dir>/keyring`, mode 0600). A dump or a backup
of the database alone therefore holds no usable key: it cannot confirm a guessed
email against the audit log nor reproduce a fake. Destroying a tenant's wrapped key
(a whole-tenant Erase does, last) makes everything keyed with it unlinkable.

Every process of the service must read the same keyring file (mount the same
secret); a process whose keyring cannot unwrap the database's keys refuses to start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.config import ConfigError

_KEY_BYTES = 32
_NONCE_BYTES = 12
_HEADER = "atomicrm-privacy-keyring-v1"
# A keyring file holds two words: the header, then the key (base64).
_FILE_WORDS = 2


class KeyringError(ConfigError):
    """The keyring is missing, malformed or not the one the database's keys need."""


class Keyring:
    """Wraps and unwraps secrets under the keyring's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise KeyringError(f"a keyring key has {_KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        # Names the key without revealing it: which keyring wrapped a stored key.
        self.key_id = hashlib.sha256(b"key id\0" + key).hexdigest()[:16]
        self._fingerprints = hmac.new(key, b"request fingerprints", hashlib.sha256).digest()
        # Signs page tokens of listings across tenants (ListJobs with all_tenants);
        # a tenant's own listings are signed with a subkey of the tenant's key.
        self.page_token_key = hmac.new(key, b"all-tenant page tokens", hashlib.sha256).digest()

    @classmethod
    def generate(cls) -> Keyring:
        return cls(secrets.token_bytes(_KEY_BYTES))

    @classmethod
    def load(cls, path: Path, *, create: bool = False) -> Keyring:
        """The keyring in `path`; with `create`, a new one is written there if none is."""
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            if not create:
                raise KeyringError(
                    f"no keyring at {path}: set PRIVACY_KEYRING to the service's keyring file"
                ) from None
            return cls._create(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyringError(f"cannot read the keyring at {path}: {type(exc).__name__}") from None
        return cls(_parse(text, path))

    @classmethod
    def _create(cls, path: Path) -> Keyring:
        key = secrets.token_bytes(_KEY_BYTES)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = f"{_HEADER}\n{base64.b64encode(key).decode()}\n"
        try:
            # Exclusive: two processes starting at once must not each write a key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            return cls.load(path)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        return cls(key)

    def wrap(self, secret: bytes, context: str) -> bytes:
        """`secret` encrypted and authenticated; `context` (a tenant or job id) is bound
        to it, so a wrapped key copied onto another tenant's row does not unwrap."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, context.encode())

    def fingerprint(self, data: bytes) -> str:
        """A keyed hash of a request: comparable across processes and tenant keys (a
        whole tenant's erasure destroys its key, and a retry must still be known)."""
        return hmac.new(self._fingerprints, data, hashlib.sha256).hexdigest()

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], context.encode()
            )
        except InvalidTag:
            raise KeyringError(
                "a stored key does not unwrap with this keyring (another keyring, or the "
                "row was altered)"
            ) from None


def _parse(text: str, path: Path) -> bytes:
    lines = text.split()
    if len(lines) != _FILE_WORDS or lines[0] != _HEADER:
        raise KeyringError(f"{path} is not a keyring file")
    try:
        key = base64.b64decode(lines[1], validate=True)
    except ValueError:
        raise KeyringError(f"{path} is not a keyring file") from None
    if len(key) != _KEY_BYTES:
        raise KeyringError(f"{path} is not a keyring file")
    return key
