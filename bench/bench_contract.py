"""Contract checks: a compiled mapping alone vs the same mapping with its JSON Schema contract
checked by the compiled check (fastjsonschema, runtime/mapping/fastcontract.py) and by
jsonschema's interpreter alone (what every record paid before). Issue 15's goal: a
contract-checked mapping at >= 0.3x the bare mapping.

    .venv/bin/python bench/bench_contract.py [--records 20000] [--rounds 9]

Stands for: what `koppel run` spends per record between the source and the target. Ratios are per
round (all three measured back to back, order alternating), medians printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_mapping import MAPPING, measure, record  # noqa: E402

from runtime.mapping import compile_mapping  # noqa: E402
from runtime.mapping import contract as contracts  # noqa: E402

CONTRACT = {"json_schema": {
    "type": "object", "additionalProperties": False,
    "required": ["studentnummer", "achternaam", "crebo", "leertraject", "brin"],
    "properties": {
        "studentnummer": {"type": "string", "pattern": "^S[0-9]{6}$"},
        "bsn": {"type": ["string", "null"], "pattern": "^[0-9]{9}$"},
        "achternaam": {"type": "string", "minLength": 1, "maxLength": 200},
        "voornamen": {"type": ["string", "null"], "maxLength": 200},
        "tussenvoegsel": {"type": ["string", "null"], "maxLength": 30},
        "naam": {"type": "string"},
        "geboortedatum": {"type": ["string", "null"], "format": "date"},
        "email": {"type": "string", "format": "email"},
        "postcode": {"type": ["string", "null"], "pattern": "^[0-9]{4}[A-Z]{2}$"},
        "woonplaats": {"type": ["string", "null"]},
        "crebo": {"type": "string", "pattern": "^[0-9]{5}$"},
        "leertraject": {"enum": ["BOL", "BBL"]},
        "cohort": {"type": ["string", "null"]},
        "brin": {"const": "25LH"},
        "locatie": {"type": ["string", "null"]},
    },
}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    mapping = compile_mapping(MAPPING, ROOT)
    compiled_check = contracts.load(CONTRACT, ROOT).validate
    os.environ["KOPPEL_NO_FAST_CONTRACT"] = "1"  # the interpreter alone, as before
    interpreted_check = contracts.load(CONTRACT, ROOT).validate
    del os.environ["KOPPEL_NO_FAST_CONTRACT"]
    records = [record(i) for i in range(args.records)]
    for r in records[:50]:
        compiled_check(mapping(r))
        interpreted_check(mapping(r))

    variants = {"bare mapping": mapping,
                "mapping + compiled contract": lambda r: compiled_check(mapping(r)),
                "mapping + jsonschema contract": lambda r: interpreted_check(mapping(r))}
    figures: dict[str, list[float]] = {k: [] for k in variants}
    for round_no in range(args.rounds):
        order = list(variants.items())
        if round_no % 2:
            order.reverse()
        for name, fn in order:
            figures[name].append(measure(fn, records if "jsonschema" not in name else records[: args.records // 10]))
    ratios = {k: statistics.median(v / b for v, b in zip(figures[k], figures["bare mapping"])) for k in variants}
    load = os.getloadavg()[0]
    print(f"{len(MAPPING['output'])}-field mapping with a 15-field JSON Schema contract, {args.rounds} rounds, "
          f"load {load:.1f}")
    print(f"{'':32}{'records/s':>12}{'ratio to bare':>16}")
    for name in variants:
        print(f"{name:32}{statistics.median(figures[name]):12,.0f}{ratios[name]:16.2f}")
    verdict = "meets" if ratios["mapping + compiled contract"] >= 0.3 else "MISSES"
    print(f"compiled contract: {ratios['mapping + compiled contract']:.2f}x the bare mapping ({verdict} 0.3); "
          f"{ratios['mapping + compiled contract'] / ratios['mapping + jsonschema contract']:.0f}x the interpreter")


if __name__ == "__main__":
    main()
