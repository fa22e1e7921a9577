"""A `when` on an entry of a fixed-length list leaves that entry out, as it leaves a field out of an
object (it was ignored: the entry was always there). Both the generated and the slow path."""

from __future__ import annotations

import pytest

from runtime.mapping import compile_mapping

MAPPING = {"name": "t", "output": {"codes": [{"expr": "a", "when": "flag"}, "b", {"const": "C", "when": "!flag"},
                                            {"expr": "missing", "when": "b == `2`"}]}}


@pytest.mark.parametrize("record, expected", [
    ({"a": 1, "b": 2, "flag": True}, [1, 2, None]),
    ({"a": 1, "b": 2, "flag": False}, [2, "C", None]),
    ({"a": 1, "b": 3, "flag": None}, [3, "C"]),
])
def test_a_list_entry_with_a_false_when_is_left_out(record: dict, expected: list) -> None:
    mapping = compile_mapping(MAPPING, None)
    assert mapping._fast(record) == {"codes": expected}
    assert mapping._slow(record) == {"codes": expected}

