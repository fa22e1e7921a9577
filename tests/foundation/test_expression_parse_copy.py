"""compiler.parse gives each caller a tree of its own: jmespath caches the trees it parses, and
reading a bare ``null``/``true``/``false`` operand as a value rewrites the tree in place, which
must never reach jmespath's cached tree (a plain ``jmespath.search`` of the same text would then
compare with the value instead of the field called null)."""

from __future__ import annotations

import jmespath
from jmespath.parser import Parser

from runtime.mapping.compiler import parse


def test_the_cached_tree_is_never_rewritten():
    text = "person.bsn != null && active == `true` && tags[?x == false] | [0]"
    before = repr(Parser().parse(text).parsed)
    first = parse(text)
    assert "'type': 'literal', 'value': None" in repr(first)
    assert repr(Parser().parse(text).parsed) == before
    first["children"].clear()
    assert parse(text) != first, "each call gets a tree of its own"
    assert jmespath.search("a != null", {"a": 1, "null": 1}) is False  # jmespath's own reading
