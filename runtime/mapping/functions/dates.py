"""Date and date-time functions.

Accepted inputs, recognised automatically: ISO 8601 dates and date-times (``2026-08-01``,
``2026-08-01T09:30:00``, ``...Z``, ``...+02:00``), Dutch ``dd-mm-yyyy``, compact ``yyyymmdd``,
and OData's ``/Date(1641034800000)/`` or ``/Date(1641034800000+0100)/`` (milliseconds since
1970 in UTC). A date-time without an offset is read in the zone given, by default
Europe/Amsterdam, the college's own. A date is taken in that zone too, so an OData value of
midnight Amsterdam (23:00 UTC the day before) gives the Amsterdam date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runtime.mapping.functions import FunctionError, function
from runtime.mapping.functions.clock import current_time

DEFAULT_ZONE = "Europe/Amsterdam"
_ODATA = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_DUTCH = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


@lru_cache(maxsize=64)
def zone(name: str | None) -> ZoneInfo | timezone:
    if name is None:
        name = DEFAULT_ZONE
    if name.upper() in ("UTC", "Z"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FunctionError(f"unknown time zone '{name}'") from exc


def parse(value: object, fmt: str | None = None, tz: str | None = None) -> date | datetime:
    """A date or an aware datetime from any accepted input. Raises FunctionError."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone(tz))
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise FunctionError(f"expected a date string, got {_type(value)}")
    text = value.strip()
    if fmt:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError as exc:
            raise FunctionError(f"the value does not match the date format '{fmt}'") from exc
        if not any(code in fmt for code in ("%H", "%I", "%M", "%S", "%z")):
            return parsed.date()
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone(tz))
    if m := _ODATA.match(text):
        moment = datetime.fromtimestamp(int(m.group(1)) / 1000, tz=timezone.utc)
        return moment
    try:
        if m := _DUTCH.match(text):
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        if m := _COMPACT.match(text):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FunctionError("not a recognised date (use ISO 8601, dd-mm-yyyy, yyyymmdd or /Date(ms)/)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=zone(tz))


def _as_date(value: object, fmt: str | None = None, tz: str | None = None) -> date:
    parsed = parse(value, fmt, tz)
    if isinstance(parsed, datetime):
        return parsed.astimezone(zone(tz)).date()
    return parsed


def _as_datetime(value: object, tz: str | None = None) -> datetime:
    parsed = parse(value, None, tz)
    if not isinstance(parsed, datetime):
        parsed = datetime(parsed.year, parsed.month, parsed.day, tzinfo=zone(tz))
    return parsed.astimezone(zone(tz))


def _type(value: object) -> str:
    return {str: "string", bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


@function("to_date", "dates")
def to_date(value, format=None):
    """The date as ``YYYY-MM-DD``. ``format`` (strptime, e.g. ``%d/%m/%Y``) reads other layouts.

    ``to_date('/Date(1641034800000)/')`` → ``"2022-01-01"``; ``to_date('01-08-2026')`` → ``"2026-08-01"``.
    """
    if value is None or value == "":
        return None
    return _as_date(value, format).isoformat()


@function("to_datetime", "dates")
def to_datetime(value, tz=None):
    """The moment as ISO 8601 with offset, in zone ``tz`` (default Europe/Amsterdam).

    ``to_datetime('/Date(1641034800000)/')`` → ``"2022-01-01T12:00:00+01:00"``.
    """
    if value is None or value == "":
        return None
    return _as_datetime(value, tz).isoformat()


@function("to_utc", "dates")
def to_utc(value):
    """The moment in UTC as ``YYYY-MM-DDTHH:MM:SSZ``; naive input is read in Europe/Amsterdam."""
    if value is None or value == "":
        return None
    moment = _as_datetime(value).astimezone(timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@function("to_odata_date", "dates")
def to_odata_date(value):
    """The moment as OData's ``/Date(ms)/`` (milliseconds since 1970, UTC), as Exact expects it."""
    if value is None or value == "":
        return None
    millis = int(_as_datetime(value).timestamp() * 1000)
    return f"/Date({millis})/"


@function("format_date", "dates")
def format_date(value, pattern, tz=None):
    """Any accepted date or moment formatted with strftime ``pattern``, in zone ``tz``.

    ``format_date('2026-08-01', '%d-%m-%Y')`` → ``"01-08-2026"``; ``'%Y%m%d'`` gives DUO's layout.
    """
    if value is None or value == "":
        return None
    if not isinstance(pattern, str):
        raise FunctionError("format_date(): the pattern must be a string")
    parsed = parse(value, None, tz)
    if isinstance(parsed, datetime):
        parsed = parsed.astimezone(zone(tz))
    return parsed.strftime(pattern)


@function("parse_date", "dates")
def parse_date(value, pattern):
    """Read ``value`` with strptime ``pattern``; a date pattern gives ``YYYY-MM-DD``, one with a time
    gives an ISO date-time in Europe/Amsterdam. ``parse_date('01/08/2026', '%d/%m/%Y')``.
    """
    if value is None or value == "":
        return None
    parsed = parse(value, pattern)
    if isinstance(parsed, datetime):
        return parsed.astimezone(zone(None)).isoformat()
    return parsed.isoformat()


@function("add_days", "dates")
def add_days(value, days):
    """The date ``days`` days after ``value`` (negative: before), as ``YYYY-MM-DD``."""
    if value is None or value == "":
        return None
    if isinstance(days, bool) or not isinstance(days, (int, float)):
        raise FunctionError("add_days(): days must be a number")
    return (_as_date(value) + timedelta(days=int(days))).isoformat()


@function("age", "dates")
def age(birthdate, on=None):
    """Whole years between ``birthdate`` and ``on`` (default today in Amsterdam), e.g. for the
    leerplicht rule (under 18)."""
    if birthdate is None or birthdate == "":
        return None
    born = _as_date(birthdate)
    day = _as_date(on) if on else current_time().astimezone(zone(None)).date()
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@function("today", "dates")
def today(tz=None):
    """Today's date in zone ``tz`` (default Europe/Amsterdam). Mapping tests can fix it with ``now:``."""
    return current_time().astimezone(zone(tz)).date().isoformat()


@function("now", "dates")
def now(tz=None):
    """This moment, ISO 8601 with offset, in zone ``tz``. Mapping tests can fix it with ``now:``."""
    return current_time().astimezone(zone(tz)).replace(microsecond=0).isoformat()
