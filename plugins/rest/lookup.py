"""JMESPath expressions as fast callables.

Per-record JMESPath searches are ~45× slower than plain key access (performance notes). The
expressions a rest spec uses per record (``key``, ``reference``, ``watermark.field``, ``save``)
are nearly always plain dotted names (``ID``, ``d.Id``, ``student.nr``): those become chained
``dict.get`` calls; anything else goes to the compiled JMESPath expression. Same results either
way: a missing key or a non-dict on the path gives None, as JMESPath does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jmespath

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@lru_cache(maxsize=512)
def compile_lookup(expression: str) -> Callable[[Any], Any]:
    if expression == "@":
        return lambda value: value
    if not _PLAIN.match(expression):
        return jmespath.compile(expression).search
    names = expression.split(".")
    if len(names) == 1:
        name = names[0]
        return lambda value: value.get(name) if isinstance(value, dict) else None

    def search(value: Any) -> Any:
        for name in names:
            if not isinstance(value, dict):
                return None
            value = value.get(name)
        return value

    return search
