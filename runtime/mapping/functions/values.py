"""General value functions: choosing, converting, value-map lookup and the root record."""

from __future__ import annotations

from runtime.mapping.functions import FunctionError, function


def _truthy(value: object) -> bool:
    """JMESPath's truth: null, false, "", [] and {} are false; 0 is true."""
    return not (value is None or value is False or value == "" or value == [] or value == {})


@function("coalesce", "values")
def coalesce(*values):
    """The first argument that is not null (an empty string counts as a value):
    ``coalesce(person.bsn, person.onderwijsnummer)``."""
    for value in values:
        if value is not None:
            return value
    return None


@function("iif", "values")
def iif(condition, when_true, when_false=None):
    """``when_true`` if ``condition`` is true (JMESPath truth: null, false, "", [] and {} are
    false), else ``when_false``: ``iif(is_bbl, 'BBL', 'BOL')``."""
    return when_true if _truthy(condition) else when_false


@function("to_int", "values")
def to_int(value):
    """``value`` as a whole number: ``'0042'`` → ``42``; null and "" give null; text that is
    not a number is an error."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FunctionError("to_int(): expected a number or digits, got a boolean")
    if isinstance(value, (int, float)):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise FunctionError("to_int(): the text is not a whole number") from exc


@function("to_bool", "values")
def to_bool(value):
    """``value`` as true/false: ``true/false``, ``1/0``, ``J/N``, ``ja/nee``, ``yes/no``, ``y/n``
    (any case). Null gives null; anything else is an error."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "j", "ja", "y", "yes"):
        return True
    if text in ("false", "0", "n", "nee", "no"):
        return False
    raise FunctionError("to_bool(): not a recognised yes/no value")


@function("round_to", "values")
def round_to(value, digits=0):
    """``value`` rounded half-up to ``digits`` decimals (money: ``round_to(amount, `2`)``)."""
    if value is None:
        return None
    from decimal import ROUND_HALF_UP, Decimal

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise FunctionError("round_to(): expected a number")
    try:
        quantum = Decimal(1).scaleb(-int(digits))
        rounded = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    except (ArithmeticError, ValueError) as exc:
        raise FunctionError("round_to(): expected a number") from exc
    return int(rounded) if int(digits) <= 0 else float(rounded)


@function("lookup", "values", contextual=True)
def lookup(context, value, valuemap, fallback=None):
    """``value`` translated through the value map ``valuemap`` (a file in mappings/valuemaps/).
    ``fallback`` says what an unknown code does: ``'error'`` (the record fails), ``'default'`` (the
    map's default) or ``'pass'`` (the code unchanged). Without it, the map's default is used when it
    has one, else it is an error. Null stays null. ``lookup(leerweg, 'leertraject')``."""
    if not isinstance(valuemap, str):
        raise FunctionError("lookup(): the value map name must be a string")
    if fallback not in (None, "error", "default", "pass"):
        raise FunctionError("lookup(): fallback must be 'error', 'default' or 'pass'")
    return context.valuemap(valuemap).lookup(value, fallback)


@function("root", "values", contextual=True)
def root(context):
    """The whole source record, also inside ``each``: ``root().person.bsn`` next to the fields of
    the list item."""
    return context.current_root()
