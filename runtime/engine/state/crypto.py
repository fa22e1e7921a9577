"""Payloads at rest: AES-256-GCM under the data keys of ``state.keys`` in catalog.yaml.

Every stored value that can hold personal data (a dead letter's record and payload, an inbox
body, a callback body, a multi-step delivery's saved answers) is sealed before it is written
and opened when it is read. A sealed value is one JSON string in the same column::

    kp1:<key id>:<base64 of 12-byte nonce + ciphertext + 16-byte tag>

so no schema change was needed, a row written before encryption (plain JSON) still reads, and
``koppel state rekey`` can tell which key sealed each row. The plaintext is the value's compact
JSON; the associated data is the key id, so a ciphertext relabelled with another id fails.

The first key of the environment seals; every listed key opens (rotation: put the new key
first, run ``koppel state rekey``, then drop the old one). Without ``state.keys`` for the
environment nothing is sealed (the state is written as before) and a sealed value met on
reading is a ConfigError naming its key id: never a crash, never a silent skip.

The keyring is per process (``configure``): the engine sets it from the project when it starts,
so every StateStore of that process (the webhook source's, the step progress's) uses it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from runtime.errors import ConfigError

PREFIX = "kp1:"
KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_NONCE = 12


@dataclass(frozen=True)
class Keyring:
    """Key id → 32-byte AES key, in the catalog's order: the first one seals."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("state keys: at least one key is needed")
        for key_id, key in self.keys:
            if not KEY_ID.match(key_id):
                raise ConfigError(f"state key id '{key_id}': letters, digits, '.', '_' and '-' only (up to 40)")
            if len(key) != 32:
                raise ConfigError(f"state key {key_id}: must be 32 bytes (AES-256), base64-encoded; "
                                  f"it decodes to {len(key)} bytes (make one with `koppel state new-key`)")

    @property
    def current(self) -> str:
        return self.keys[0][0]

    def key(self, key_id: str) -> bytes:
        for kid, key in self.keys:
            if kid == key_id:
                return key
        raise ConfigError(f"state key {key_id} is needed to read stored payloads but is not in catalog.yaml's "
                          f"state.keys for this environment (keys there: {', '.join(k for k, _ in self.keys)})")

    def seal(self, value: Any) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kid, key = self.keys[0]
        nonce = os.urandom(_NONCE)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        sealed = AESGCM(key).encrypt(nonce, plain, kid.encode())
        return f"{PREFIX}{kid}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, text: str) -> Any:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kid, blob = _parts(text)
        try:
            raw = base64.b64decode(blob, validate=True)
            plain = AESGCM(self.key(kid)).decrypt(raw[:_NONCE], raw[_NONCE:], kid.encode())
        except (InvalidTag, binascii.Error, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"state key {kid}: a stored payload does not decrypt with it (a wrong key under "
                              "this id, or a damaged value)") from None
        return json.loads(plain)


_active: Keyring | None = None


def configure(keyring: Keyring | None) -> None:
    """Set this process's keyring (None: store plainly, refuse to read sealed values)."""
    global _active
    _active = keyring


def active() -> Keyring | None:
    return _active


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_id_of(value: Any) -> str | None:
    return _parts(value)[0] if is_sealed(value) else None


def seal(value: Any) -> Any:
    """The value as it is stored: sealed under the current key, or as it is without a keyring.
    None stays None (an absent payload is not personal data, and NULL keeps queries simple)."""
    if value is None or _active is None:
        return value
    return _active.seal(value)


def unseal(value: Any) -> Any:
    """The value as it was before ``seal``; a plain (pre-encryption) value is returned as it is."""
    if not is_sealed(value):
        return value
    if _active is None:
        raise ConfigError(f"stored payloads are encrypted under state key {key_id_of(value)}, but catalog.yaml "
                          "has no state.keys for this environment")
    return _active.open(value)


def unseal_fields(row: dict, *names: str) -> dict:
    for name in names:
        if name in row:
            row[name] = unseal(row[name])
    return row


def _parts(text: str) -> tuple[str, str]:
    rest = text[len(PREFIX):]
    kid, sep, blob = rest.partition(":")
    if not sep or not KEY_ID.match(kid):
        raise ConfigError("a stored payload starts like an encrypted one (kp1:) but has no key id")
    return kid, blob


def decode_key(key_id: str, text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"state key {key_id}: not base64 (make one with `koppel state new-key`)") from None


def new_key_text() -> str:
    """A fresh data key, as the key file or environment variable holds it."""
    return base64.b64encode(os.urandom(32)).decode()


def keyring_from(catalog, environment: str, root) -> Keyring | None:
    """The environment's keyring from catalog.yaml's ``state.keys`` (None when it lists none).
    A key that cannot be read is a ConfigError naming its id and reference, never its value."""
    from runtime import secrets

    entries = (catalog.state.keys.get(environment) if catalog is not None else None) or []
    if not entries:
        return None
    keys = []
    for e in entries:
        try:
            text = secrets.resolve(e.key, base=root)
        except ConfigError as exc:  # the secret's message names the reference; add which key
            raise ConfigError(f"state key {e.id} ({environment}): {exc}") from None
        keys.append((e.id, decode_key(e.id, text)))
    return Keyring(tuple(keys))


def configure_for(project, environment: str) -> Keyring | None:
    """Set this process's keyring from the project (the engine calls this when it starts)."""
    keyring = keyring_from(getattr(project, "catalog", None), environment, getattr(project, "root", None))
    configure(keyring)
    return keyring
