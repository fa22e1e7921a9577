"""String functions, including Dutch names with a tussenvoegsel."""

from __future__ import annotations

from runtime.mapping.functions import FunctionError, function

#: the tussenvoegsels of Dutch and Flemish surnames, longest written first where they overlap
TUSSENVOEGSELS = frozenset(
    ["van", "de", "der", "den", "het", "ten", "ter", "te", "in", "'t", "d'", "op", "aan", "bij", "onder", "uit", "over", "voor", "van't", "la", "le", "du", "des", "da", "di", "del", "della", "dos", "el", "al", "lo"]
)


def _text(value: object, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise FunctionError(f"{name}(): expected a string")
    return str(value)  # numbers are written as text: codes often arrive as numbers


def _stringify(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@function("text", "strings")
def text(value):
    """``value`` as a string, null staying null (JMESPath's ``to_string(null)`` gives the string
    ``"null"``): ``text(`12`)`` → ``"12"``, ``text(`true`)`` → ``"true"``, ``text(`null`)`` → null. A list or
    object is an error: write the field you mean."""
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        raise FunctionError("text(): expected a single value, not a list or an object")
    return _stringify(value)


@function("concat", "strings")
def concat(*parts):
    """All parts as one string; null parts are left out. ``concat(first, ' ', last)``."""
    return "".join(_stringify(p) for p in parts if p is not None)


@function("concat_ws", "strings")
def concat_ws(separator, *parts):
    """The non-empty parts joined by ``separator``: ``concat_ws(' ', voornaam, tussenvoegsel, achternaam)``
    skips a missing tussenvoegsel without a double space."""
    return _text(separator, "concat_ws").join(_stringify(p) for p in parts if p not in (None, ""))


@function("trim", "strings")
def trim(value):
    """``value`` without leading and trailing white space, inner runs of spaces made single."""
    if value is None:
        return None
    return " ".join(_text(value, "trim").split())


@function("upper", "strings")
def upper(value):
    """``value`` in capitals."""
    return None if value is None else _text(value, "upper").upper()


@function("lower", "strings")
def lower(value):
    """``value`` in lower case."""
    return None if value is None else _text(value, "lower").lower()


@function("capitalize", "strings")
def capitalize(value):
    """The first letter of every word a capital, the rest unchanged: ``'jan-peter'`` → ``'Jan-Peter'``."""
    if value is None:
        return None
    out, start = [], True
    for ch in _text(value, "capitalize"):
        out.append(ch.upper() if start else ch)
        start = ch in " -'"
    return "".join(out)


@function("pad_left", "strings")
def pad_left(value, width, fill="0"):
    """``value`` padded on the left to ``width`` with ``fill`` (default ``0``): ``pad_left(brin_volgnr, `2`)``."""
    if value is None:
        return None
    return _text(value, "pad_left").rjust(_width(width, "pad_left"), _fill(fill, "pad_left"))


@function("pad_right", "strings")
def pad_right(value, width, fill=" "):
    """``value`` padded on the right to ``width`` with ``fill`` (default a space), for fixed-width files."""
    if value is None:
        return None
    return _text(value, "pad_right").ljust(_width(width, "pad_right"), _fill(fill, "pad_right"))


def _width(width: object, name: str) -> int:
    if isinstance(width, bool) or not isinstance(width, (int, float)) or width < 0:
        raise FunctionError(f"{name}(): width must be a non-negative number")
    return int(width)


def _fill(fill: object, name: str) -> str:
    if not isinstance(fill, str) or len(fill) != 1:
        raise FunctionError(f"{name}(): fill must be one character")
    return fill


@function("substring", "strings")
def substring(value, start, length=None):
    """``length`` characters of ``value`` from position ``start`` (0-based); to the end without length.
    Use it to cut a field to a target's maximum, e.g. ``substring(naam, `0`, `40`)``."""
    if value is None:
        return None
    text = _text(value, "substring")
    begin = _width(start, "substring")
    return text[begin:] if length is None else text[begin : begin + _width(length, "substring")]


@function("replace", "strings")
def replace(value, old, new):
    """``value`` with every ``old`` replaced by ``new``."""
    if value is None:
        return None
    return _text(value, "replace").replace(_text(old, "replace"), _text(new, "replace"))


@function("split", "strings")
def split(value, separator=None):
    """``value`` cut at ``separator`` into a list (white space when omitted), parts trimmed."""
    if value is None:
        return None
    text = _text(value, "split")
    if separator is None:
        return text.split()
    return [part.strip() for part in text.split(_text(separator, "split"))]


def _split_surname(surname: str) -> tuple[str | None, str]:
    words = surname.split()
    prefix: list[str] = []
    while len(words) > 1 and words[0].lower() in TUSSENVOEGSELS:
        prefix.append(words.pop(0))
    return (" ".join(prefix).lower() if prefix else None), " ".join(words)


@function("split_surname", "strings")
def split_surname(value):
    """A surname as ``{tussenvoegsel, achternaam}``: ``'van der Berg'`` → ``{"tussenvoegsel": "van der",
    "achternaam": "Berg"}``. The tussenvoegsel is null when there is none."""
    if value is None:
        return None
    tussenvoegsel, achternaam = _split_surname(" ".join(_text(value, "split_surname").split()))
    return {"tussenvoegsel": tussenvoegsel, "achternaam": achternaam}


@function("split_name", "strings")
def split_name(value):
    """A full name as ``{voornamen, tussenvoegsel, achternaam}``: the first word(s) before a
    tussenvoegsel are the given names, ``'Jan Peter van den Heuvel'`` → voornamen ``Jan Peter``,
    tussenvoegsel ``van den``, achternaam ``Heuvel``. Without a tussenvoegsel the last word is the
    surname. ``'Heuvel, Jan van den'`` (the register form) is read too. For a surname on its own
    (``'van Dijk'``) use ``split_surname``."""
    if value is None:
        return None
    text = " ".join(_text(value, "split_name").split())
    if "," in text:
        surname, _, rest = (p.strip() for p in text.partition(","))
        words = rest.split()
        i = next((k for k, w in enumerate(words) if w.lower() in TUSSENVOEGSELS), len(words))
        tussen = " ".join(words[i:]).lower() or None
        return {"voornamen": " ".join(words[:i]) or None, "tussenvoegsel": tussen, "achternaam": surname}
    words = text.split()
    for i, word in enumerate(words[1:], start=1):
        if word.lower() in TUSSENVOEGSELS and i < len(words) - 1:
            tussen, achternaam = _split_surname(" ".join(words[i:]))
            return {"voornamen": " ".join(words[:i]), "tussenvoegsel": tussen, "achternaam": achternaam}
    if len(words) == 1:
        return {"voornamen": None, "tussenvoegsel": None, "achternaam": words[0] if words else None}
    return {"voornamen": " ".join(words[:-1]), "tussenvoegsel": None, "achternaam": words[-1]}


@function("full_name", "strings")
def full_name(voornamen, tussenvoegsel, achternaam):
    """The name as written in a letter: ``full_name('Jan', 'van der', 'Berg')`` → ``"Jan van der Berg"``."""
    return concat_ws(" ", voornamen, tussenvoegsel, achternaam) or None


@function("sort_name", "strings")
def sort_name(tussenvoegsel, achternaam):
    """The surname as sorted in a register: ``sort_name('van der', 'Berg')`` → ``"Berg, van der"``."""
    if achternaam is None:
        return None
    return f"{achternaam}, {tussenvoegsel}" if tussenvoegsel else _text(achternaam, "sort_name")


@function("initials", "strings")
def initials(voornamen):
    """Voorletters from the given names: ``'Jan Peter'`` → ``"J.P."``."""
    if voornamen is None:
        return None
    return "".join(f"{w[0].upper()}." for w in _text(voornamen, "initials").replace("-", " ").split())
