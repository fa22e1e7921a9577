"""``koppel validate`` checks mappings with Builder(check_only=True): it must find exactly the
problems the full build (what ``koppel run`` compiles) finds, at the same places, and compile nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.mapping.engine import Builder, MappingContext
from runtime.yamlsource import load_file, load_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "mappings").glob("*.yaml"))

BROKEN = """
name: broken
where: "person.eck_id === null"
output:
  ok: "coalesce(person.bsn, person.onderwijsnummer)"
  syntax: "foo.[bar"
  unknown_function: "nosuchfn(x)"
  arity: "length(a, b)"
  unknown_map_in_lookup: "lookup(x, 'nosuchmap')"
  unknown_map: {expr: x, valuemap: nosuchmap2}
  each_without_output: {each: items}
  bad_when: {when: "a ==", expr: "b"}
  nested_each: {each: items, where: "x ==", output: {y: "z.["}}
  listed: [1, "x.[", {object: 3}]
  no_default: {expr: x, valuemap: ja-nee, fallback: default}
"""


def problems(data: dict, check_only: bool) -> list[tuple]:
    builder = Builder(MappingContext(ROOT), collect=True, check_only=check_only)
    built = builder.build(data)
    return [(p.loc, p.message, p.column) for p in built.problems]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_a_shipped_mapping_has_the_same_verdict_either_way(path: Path) -> None:
    data = load_file(path).data
    assert problems(data, check_only=True) == problems(data, check_only=False) == []


def test_a_broken_mapping_has_the_same_problems_either_way() -> None:
    data = load_text(BROKEN).data
    found = problems(data, check_only=True)
    assert found == problems(data, check_only=False)
    assert len(found) >= 10  # every broken field above is reported, not just the first


def test_check_only_compiles_nothing() -> None:
    built = Builder(MappingContext(ROOT), collect=True, check_only=True).build(load_file(SHIPPED[0]).data)
    with pytest.raises(RuntimeError, match="only checked"):
        built.fast({})
