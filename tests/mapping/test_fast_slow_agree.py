"""The generated fast path and the field-by-field slow path agree on odd records too.

The fast path is what runs; the slow path is what names a failing field. If the fast path ever
returned something different from the slow one without raising, a record would be mapped wrongly
and silently. Records here are mutated at random (fields dropped, replaced by other types).
"""

from __future__ import annotations

import copy
import random
from pathlib import Path

from runtime.errors import MappingError
from runtime.mapping import compile_mapping, load_mapping

ROOT = Path(__file__).resolve().parents[2]

MAPPING = {
    "name": "rich",
    "where": "person.bsn != null || person.onderwijsnummer",
    "output": {
        "id": "uuid5('koppel', 'student', student_number)",
        "naam": "concat_ws(' ', person.first_name, person.prefix, person.last_name)",
        "achternaam": {"expr": "person.last_name", "default": "?"},
        "eerste": "enrollments[0].crebo",
        "laatste": "enrollments[-1].crebo",
        "lt": {"expr": "enrollments[0].leerweg", "valuemap": "leertraject", "fallback": "pass"},
        "actief": {"expr": "length(enrollments[?active])", "when": "enrollments"},
        "oud": "person.age >= `18` && 'ja' || 'nee'",
        "inschrijvingen": {
            "each": "enrollments",
            "where": "active == true",
            "output": {"crebo": "crebo", "bsn": "root().person.bsn", "start": "start", "n": "!active"},
        },
        "adres": {"straat": "person.address.street", "plaats": "upper(person.address.city)"},
        "vast": [{"const": 1}, "person.prefix"],
    },
}

BASE = {
    "student_number": "S1",
    "person": {"bsn": "123456782", "onderwijsnummer": None, "first_name": "Jan", "prefix": "van der",
               "last_name": "Berg", "age": 19, "address": {"street": "Laan 1", "city": "Oss"}},
    "enrollments": [{"crebo": "25604", "leerweg": "BOL", "active": True, "start": "2026-08-01"},
                    {"crebo": "25655", "leerweg": "XXX", "active": False, "start": "2025-08-01"}],
}

ODD_VALUES = [None, 0, 1, True, False, "", "tekst", [], [1, "a"], {}, {"x": 1}, 2.5]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _mutate(record, rng):
    record = copy.deepcopy(record)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(record) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent = record
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    return record


def _outcome(fn, record):
    try:
        return ("ok", fn(record))
    except MappingError as exc:
        return ("error", exc.path)
    except Exception as exc:  # noqa: BLE001 - the fast path may raise anything; then the slow one decides
        return ("raised", type(exc).__name__)


def test_fast_path_never_differs_from_slow_path():
    m = compile_mapping(MAPPING, ROOT)
    rng = random.Random(20261128)
    for _ in range(3000):
        record = _mutate(BASE, rng)
        fast, slow = _outcome(m._fast, record), _outcome(m._slow, record)
        if fast[0] == "ok":
            assert slow == fast, record
        assert _outcome(m, record) == slow, record  # what callers get is always the slow path's answer


def test_the_projects_mappings_agree_on_their_own_test_inputs():
    import yaml

    for path in sorted((ROOT / "mappings" / "tests").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        cases = data if isinstance(data, list) else data.get("cases", [])
        name = path.stem if isinstance(data, list) else data.get("mapping") or path.stem
        m = load_mapping(ROOT, name)
        if "eckid_hpgn" in m.source:
            continue  # every mutated PGN costs a scrypt; the rich mapping above covers the paths
        rng = random.Random(name)
        for case in cases:
            for _ in range(10):
                record = _mutate(case["input"], rng) if case["input"] else {}
                fast = _outcome(m._fast, record)
                if fast[0] == "ok":
                    assert _outcome(m._slow, record) == fast, (name, record)
