"""Masking of secrets and BSNs in everything Koppel prints, logs, stores as an error or exports.

Two kinds of values are masked:
- secret values, registered when a ``${env:...}``/``${file:...}`` reference is resolved;
- BSNs: any run of exactly nine digits that passes the elfproef. An SBB code or another
  nine-digit number that happens to pass too is masked as well; the cost of that is small,
  the cost of a leaked BSN is not.
"""

from __future__ import annotations

import re
import threading
from typing import Any

_NINE_DIGITS = re.compile(r"(?<!\d)(\d{9})(?!\d)")
_secrets: set[str] = set()
_secret_pattern: re.Pattern | None = None
_lock = threading.Lock()

MASK = "*****"


def elfproef(number: str) -> bool:
    """The BSN eleven-test: 9·d1 + 8·d2 + ... + 2·d8 − 1·d9 is a multiple of 11 (and not 0)."""
    if len(number) != 9 or not number.isdigit():
        return False
    digits = [int(c) for c in number]
    total = sum(w * d for w, d in zip(range(9, 1, -1), digits[:8])) - digits[8]
    return total % 11 == 0 and int(number) != 0


def mask_bsn(number: str) -> str:
    """``123456782`` → ``*****6782``: enough to tell two records apart, not enough to identify."""
    return MASK + number[-4:]


def register_secret(value: str) -> None:
    global _secret_pattern
    if not value or len(value) < 4:  # too short to mask without destroying ordinary text
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def text(value: str) -> str:
    """``value`` with every registered secret and every BSN masked."""
    if _secret_pattern is not None:
        value = _secret_pattern.sub(MASK, value)
    return _NINE_DIGITS.sub(lambda m: mask_bsn(m.group(1)) if elfproef(m.group(1)) else m.group(1), value)


def data(value: Any) -> Any:
    """A deep copy of ``value`` with every string masked (numbers that are BSNs too)."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and elfproef(f"{value:09d}") and 100_000_000 <= value <= 999_999_999:
        return mask_bsn(str(value))
    if isinstance(value, dict):
        return {k: data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [data(v) for v in value]
    return value
