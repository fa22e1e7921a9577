"""Masking of secrets and BSNs in everything Koppel prints, logs, stores as an error or exports.

Two kinds of values are masked:
- secret values, registered when a ``${env:...}``/``${file:...}`` reference is resolved;
- BSNs: any run of exactly nine digits that passes the elfproef, also written the way people
  write them (``1234.56.782``, ``123 456 782``), and an integer that is one (eight or nine
  digits: a BSN with a leading zero loses it when it is stored as a number). An SBB code or
  another nine-digit number that happens to pass too is masked as well; the cost of that is
  small, the cost of a leaked BSN is not.

Secrets may overlap (``abcd1234`` and ``1234wxyz`` in ``abcd1234wxyz``): every character that
belongs to any registered secret is masked, so no part of either is left readable.
"""

from __future__ import annotations

import re
import threading
from typing import Any

# not part of a longer number: no digit (or digit and point, a decimal) before, no digit after
_NINE_DIGITS = re.compile(r"(?<!\d)(?<!\d\.)(\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3} \d{3} \d{3})(?!\d)")
_secrets: set[str] = set()
_secret_pattern: re.Pattern | None = None
_lock = threading.Lock()

MASK = "*****"


def elfproef(number: str) -> bool:
    """The BSN eleven-test: 9·d1 + 8·d2 + ... + 2·d8 − 1·d9 is a multiple of 11 (and not 0)."""
    # ASCII only: "１２３４５６７８２" passes isdigit() but is not a number DUO accepts
    if len(number) != 9 or not (number.isascii() and number.isdigit()):
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
        # a lookahead finds every secret at every position, overlapping ones included
        _secret_pattern = re.compile("(?=(" + "|".join(re.escape(s) for s in sorted(_secrets, key=len, reverse=True)) + "))")


def _mask_secrets(value: str) -> str:
    spans: list[tuple[int, int]] = []
    for match in _secret_pattern.finditer(value):  # type: ignore[union-attr]
        start, end = match.start(), match.start() + len(match.group(1))
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    if not spans:
        return value
    out, last = [], 0
    for start, end in spans:
        out.append(value[last:start] + MASK)
        last = end
    return "".join(out) + value[last:]


def _bsn(match: re.Match) -> str:
    # \d also matches other scripts' digits (fullwidth ones, say): mask those BSNs as well
    digits = "".join(str(int(c)) for c in match.group(1) if c.isdigit())
    return mask_bsn(digits) if elfproef(digits) else match.group(1)


def text(value: str) -> str:
    """``value`` with every registered secret and every BSN masked."""
    if _secret_pattern is not None:
        value = _mask_secrets(value)
    return _NINE_DIGITS.sub(_bsn, value)


# -- masking by field -------------------------------------------------------------------------
#
# In a structured value (a record, a payload, log extras) the field says more than the digits:
# a field that holds a personal number is masked whatever its value looks like (an onderwijsnummer
# fails the elfproef on purpose), and a field that holds a code is not mistaken for a BSN when its
# nine digits happen to pass the elfproef (an SBB code). Free text keeps the pattern alone.

#: fields (compared without case, underscores and dashes) that hold a personal number
PERSONAL_FIELDS: set[str] = {"bsn", "burgerservicenummer", "citizenservicenumber", "onderwijsnummer", "pgn",
                             "persoonsgebondennummer", "educationnumber"}
#: fields whose nine digits are a code, not a personal number
CODE_FIELDS: set[str] = {"sbbcode", "leerbedrijfid", "leerbedrijfcode", "kvknummer", "kvk", "vestigingsnummer",
                         "crebo", "brin", "oin"}


def field_key(name: object) -> str:
    return str(name).lower().replace("_", "").replace("-", "")


def register_fields(*, personal: tuple[str, ...] | list[str] = (), codes: tuple[str, ...] | list[str] = ()) -> None:
    """More field names to mask always (``personal``, e.g. a declared SIS field) or never by pattern."""
    with _lock:
        PERSONAL_FIELDS.update(field_key(n) for n in personal)
        CODE_FIELDS.difference_update(field_key(n) for n in personal)
        CODE_FIELDS.update(field_key(n) for n in codes if field_key(n) not in PERSONAL_FIELDS)


def _personal(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return data(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        # each item is itself a personal number (a student's onderwijsnummers): masked by the
        # field, as a single one is; by pattern alone an onderwijsnummer stayed readable
        return [_personal(v) for v in value]
    digits = str(value)
    return mask_bsn(digits) if len(digits) >= 4 and digits[-4:].isdigit() else MASK


def data(value: Any, field: object = None) -> Any:
    """A deep copy of ``value`` with every string masked (numbers that are BSNs too), keys included;
    inside a dict by field as well (``PERSONAL_FIELDS`` always, ``CODE_FIELDS`` not by pattern)."""
    if field is not None:
        name = field_key(field)
        if name in PERSONAL_FIELDS:
            return _personal(value)
        if name in CODE_FIELDS and isinstance(value, (str, int)) and not isinstance(value, bool):
            return _mask_secrets(value) if isinstance(value, str) and _secret_pattern is not None else value
    if isinstance(value, str):
        return text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        # eight or nine digits (ten or more fail the elfproef's length test)
        return mask_bsn(f"{value:09d}") if value >= 10_000_000 and elfproef(f"{value:09d}") else value
    if isinstance(value, (bytes, bytearray)):
        return text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, dict):
        return {data(k): data(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [data(v, field) for v in value]
    return value
