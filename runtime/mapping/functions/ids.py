"""Identifiers: stable UUIDs, hashes, the ECK-iD first-level hash, BSN checks and masking."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from functools import lru_cache

from runtime import redact
from runtime.errors import ConfigError
from runtime.mapping.functions import FunctionError, function

#: Koppel's own UUID namespace, so uuid5(<name>) ids do not collide with other software's
KOPPEL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://koppel.kw1c.nl/id")
_NAMED_NAMESPACES = {
    "koppel": KOPPEL_NAMESPACE,
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}

#: The salt hard-coded in Kennisnet's .NET reference implementation, used by its test vectors.
#: Every Nummervoorziening environment has its own salt (from Kennisnet); this one is only for
#: the sandbox and for tests.
ECKID_REFERENCE_SALT = "rktYml0MIp9TC9u6Ny6uqw=="
ECKID_SALT_ENV = "KOPPEL_ECKID_SALT"
_SCRYPT = {"n": 131072, "r": 8, "p": 4, "dklen": 32, "maxmem": 512 * 1024 * 1024}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        raise FunctionError("expected a string or a number, got a structure")
    return str(value)


@function("uuid5", "ids")
def uuid5(namespace, *parts):
    """A stable UUID from a name: the same input always gives the same id, so a re-sent record keeps
    its id. ``namespace`` is a UUID or one of ``koppel``, ``dns``, ``url``, ``oid``, ``x500``; the
    parts are joined with ``:``. ``uuid5('koppel', 'aangeboden-opleiding', crebo, cohort)``."""
    if not parts:
        raise FunctionError("uuid5(): give a namespace and at least one name part")
    if any(p is None for p in parts):
        return None
    if not isinstance(namespace, str):
        raise FunctionError("uuid5(): the namespace must be a string")
    ns = _NAMED_NAMESPACES.get(namespace.lower())
    if ns is None:
        try:
            ns = uuid.UUID(namespace)
        except ValueError as exc:
            raise FunctionError("uuid5(): the namespace is neither a UUID nor koppel/dns/url/oid/x500") from exc
    return str(uuid.uuid5(ns, ":".join(_text(p) for p in parts)))


@function("hash", "ids")
def hash_(value, algorithm="sha256"):
    """Lower-case hex digest of the UTF-8 text of ``value``; ``algorithm`` is ``sha256`` (default),
    ``sha512``, ``sha1`` or ``md5`` (the last two only where a partner demands them)."""
    if value is None:
        return None
    if algorithm not in ("sha256", "sha512", "sha1", "md5"):
        raise FunctionError("hash(): algorithm must be sha256, sha512, sha1 or md5")
    return hashlib.new(algorithm, _text(value).encode("utf-8")).hexdigest()


@function("sha256", "ids")
def sha256(value):
    """Lower-case hex SHA-256 of the UTF-8 text of ``value``."""
    return hash_(value, "sha256")


def eckid_salt() -> bytes:
    """The salt for hPGN: ``KOPPEL_ECKID_SALT`` (Base64, from Kennisnet), or in the sandbox the
    reference salt. Outside the sandbox a missing salt is a ConfigError (the run stops): a wrong
    salt gives an hPGN that Kennisnet accepts but that belongs to nobody."""
    configured = os.environ.get(ECKID_SALT_ENV)
    if configured:
        encoded = configured
    elif os.environ.get("KOPPEL_ENV", "sandbox") == "sandbox":
        encoded = ECKID_REFERENCE_SALT
    else:
        # A configuration problem, not this record's: it stops the run instead of filling the
        # dead letters with every student.
        raise ConfigError(f"eckid_hpgn(): set {ECKID_SALT_ENV} to the salt Kennisnet issued for this environment")
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise ConfigError(f"eckid_hpgn(): {ECKID_SALT_ENV} is not Base64") from exc


@function("eckid_hpgn", "ids")
def eckid_hpgn(pgn, salt=None):
    """The ECK-iD first-level hash (hPGN) of a persoonsgebonden nummer: BSN, or the
    onderwijsnummer when there is no BSN. Kennisnet's recipe: scrypt over the lower-cased PGN with
    the Base64-decoded salt, N=131072, r=8, p=4, 32 bytes, as lower-case hex. A number is zero-padded
    to nine digits (a BSN read as a number loses its leading zero). ``salt`` (Base64) overrides the
    configured one; leave it out in mappings. Costs about 128 MiB and a fraction of a second each."""
    if pgn is None or pgn == "":
        return None
    if isinstance(pgn, (bool, list, dict)):
        raise FunctionError("eckid_hpgn(): the PGN must be a string or a number")
    text = f"{pgn:09d}" if isinstance(pgn, int) else str(pgn).strip()
    if salt is None:
        salt_bytes = eckid_salt()
    else:
        try:
            salt_bytes = base64.b64decode(str(salt), validate=True)
        except ValueError as exc:
            raise FunctionError("eckid_hpgn(): the salt is not Base64") from exc
    return _scrypt_hex(text.lower(), salt_bytes)


@lru_cache(maxsize=256)
def _scrypt_hex(pgn: str, salt: bytes) -> str:
    # Cached in this process only: a retried record, or a test's second evaluation, does not pay
    # the 128 MiB and the fraction of a second again.
    return hashlib.scrypt(pgn.encode("utf-8"), salt=salt, **_SCRYPT).hex()


def _digits(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return f"{value:09d}"
    return value.strip() if isinstance(value, str) else None


@function("elfproef", "ids")
def elfproef(value):
    """True when ``value`` is a valid BSN: nine digits passing the eleven-test. A number is
    zero-padded to nine digits. Null gives false."""
    digits = _digits(value)
    return bool(digits) and redact.elfproef(digits)


@function("is_onderwijsnummer", "ids")
def is_onderwijsnummer(value):
    """True when ``value`` is a valid onderwijsnummer: nine digits starting with 1 whose
    eleven-test sum leaves remainder 5 (DUO's rule, so it can never be a BSN)."""
    digits = _digits(value)
    if not digits or len(digits) != 9 or not digits.isdigit() or digits[0] != "1":
        return False
    total = sum(w * int(d) for w, d in zip(range(9, 1, -1), digits[:8])) - int(digits[8])
    return total % 11 == 5


@function("mask", "ids")
def mask(value, keep=4):
    """``value`` with all but its last ``keep`` characters (default 4) replaced by ``*****``."""
    if value is None:
        return None
    text = _text(value)
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or keep < 0:
        raise FunctionError("mask(): keep must be a non-negative number")
    keep = int(keep)
    return redact.MASK + (text[-keep:] if keep else "")


@function("mask_bsn", "ids")
def mask_bsn(value):
    """Every BSN in ``value`` masked as ``*****1234``; other text left as it is."""
    if value is None:
        return None
    return redact.text(_text(value))
