"""Hardened XML parsing for everything a SOAP peer sends us (and a stand-in receives).

SOAP 1.1 forbids a DTD in a message, so the shared hardened parser (plugins/codecs/safexml.py:
no DTD, no entities, no network, size and depth capped, the DOCTYPE refusal made on what was
parsed, whatever the encoding) is exactly the rule. This module keeps the SOAP plugin's names.
"""

from __future__ import annotations

from plugins.codecs.safexml import (
    DEFAULT_MAX_BYTES,
    MalformedXML,
    UnsafeXML,
    XMLRefused,
    parse,
    parse_file,
)

__all__ = ["DEFAULT_MAX_BYTES", "MalformedXML", "UnsafeXML", "XMLRefused", "is_refusal", "parse", "parse_file"]


def is_refusal(exc: XMLRefused) -> bool:
    """A document refused for what it is (DTD, too large, too deep), not one broken in transit."""
    return isinstance(exc, UnsafeXML) or exc.code in ("too-large", "too-deep")
