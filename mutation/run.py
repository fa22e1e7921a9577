"""The mutation run: mutmut over each module of mutation/modules.toml, one group at a time.

    .venv/bin/python mutation/run.py                 # every group, then the score table
    .venv/bin/python mutation/run.py redact lane     # just these groups
    .venv/bin/python mutation/run.py --smoke         # the CI smoke: a handful of mutants, < 1 min

Why a driver instead of one ``[tool.mutmut]`` in pyproject.toml: mutmut copies the project into
``mutants/`` and runs the tests there. Doing that per group, each in its own scratch folder under
``var/mutation/GROUP/``, lets every module bring only its own tests (minutes, not hours) and lets a
run of one module go on while the tree is being edited. The scratch folder holds symlinks to the
project and a pyproject.toml that is the project's own plus a ``[tool.mutmut]`` section.

A mutant is *caught* when a test fails (or times out) with it in place. Survivors named in
mutation/equivalent.toml are equivalent (no test can tell them apart from the original; each
entry says why) and are left out of the score. Exit status 1 when a group is under the goal.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "mutation"
SCRATCH = ROOT / "var" / "mutation"
GOAL = 0.85

# What the tests read besides Python: copied into mutants/ as they are.
DATA = ["catalog.yaml", "interfaces", "mappings", "contracts", "schemas", "docs", "bench", "README.md"]
SOURCES = ["runtime", "plugins", "sandbox"]

CAUGHT = {1, 3, 36, 37, -24, 24, 152, 255}  # killed, pytest internal error, timeouts, type check
NOT_RUN = {None}


def load_groups() -> tuple[dict, dict, dict]:
    config = tomllib.loads((HERE / "modules.toml").read_text())
    # equivalent.toml plus one file per group in equivalent/, so work on two modules at once
    # never edits the same file
    equivalent: dict = {}
    for path in [HERE / "equivalent.toml", *sorted((HERE / "equivalent").glob("*.toml"))]:
        equivalent.update(tomllib.loads(path.read_text()).get("equivalent", {}))
    return config["groups"], config["smoke"], equivalent


def prepare(name: str, group: dict) -> Path:
    """A fresh scratch folder for ``name``: symlinks to the project, pyproject with [tool.mutmut]."""
    work = SCRATCH / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for entry in SOURCES + ["tests"] + DATA:
        if (ROOT / entry).exists():
            (work / entry).symlink_to(ROOT / entry)
    section = {
        "source_paths": SOURCES,
        "only_mutate": [group["module"]],
        "also_copy": [d for d in DATA if (ROOT / d).exists()],
        # a kill file not written yet is left out rather than failing the run
        "pytest_add_cli_args_test_selection": [t for t in group["tests"] if (ROOT / t).exists()],
        # -p no:cacheprovider: the copy is thrown away; -x is mutmut's own per mutant
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q", "--timeout=120"],
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in section.items()]
    (work / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + "\n".join(lines) + "\n")
    return work


def read_results(name: str, group: dict) -> dict:
    """mutant → exit code of the last run of ``name`` (None: not run yet)."""
    meta = SCRATCH / name / "mutants" / (group["module"] + ".meta")
    if not meta.exists():
        raise SystemExit(f"no results for {name}: run it first (make mutation MODULES={name})")
    return json.loads(meta.read_text())["exit_code_by_key"]


def run_group(name: str, group: dict, mutants: list[str] | None = None) -> tuple[dict, float]:
    work = prepare(name, group)
    env = dict(os.environ)
    env.setdefault("KOPPEL_SPECS_DIR", str(ROOT.parent / "shared" / "specs"))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["KOPPEL_MUTATION"] = "1"  # tests with random examples draw fewer (see test_compiler_oracle.py)
    mutmut = str(Path(sys.executable).parent / "mutmut")
    command = [mutmut, "run", "--max-children", str(os.cpu_count() or 2)] + list(mutants or [])
    started = time.monotonic()
    log = work / "mutmut.log"
    with open(log, "w") as out:
        proc = subprocess.run(command, check=False, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - started
    meta = work / "mutants" / (group["module"] + ".meta")
    if proc.returncode != 0 or not meta.exists():
        tail = log.read_text()[-3000:]
        raise SystemExit(f"mutmut produced no results for {name} (exit {proc.returncode}); {log}:\n{tail}")
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    if mutants:
        import fnmatch

        codes = {k: v for k, v in codes.items() if any(fnmatch.fnmatch(k, m) for m in mutants)}
    return codes, elapsed


def score(name: str, group: dict, codes: dict, equivalent: dict) -> dict:
    tried = {k: v for k, v in codes.items() if v not in NOT_RUN}
    caught = sorted(k for k, v in tried.items() if v in CAUGHT)
    survived = sorted(k for k, v in tried.items() if v not in CAUGHT)
    equiv = [k for k in survived if k in equivalent]
    live = [k for k in survived if k not in equivalent]
    counted = len(tried) - len(equiv)
    return {
        "group": name,
        "module": group["module"],
        "tried": len(tried),
        "caught": len(caught),
        "survived": len(live),
        "equivalent": len(equiv),
        "score": (len(caught) / counted) if counted else 1.0,
        "survivors": live,
        "stale_equivalents": [k for k in equivalent if k.startswith(_prefix(group)) and k in caught],
    }


def _prefix(group: dict) -> str:
    return group["module"].removesuffix(".py").replace("/", ".") + "."


def report(rows: list[dict], timings: dict) -> None:
    print(f"\n{'module':<32} {'tried':>6} {'caught':>7} {'survived':>9} {'equiv.':>7} {'score':>7} {'time':>7}")
    for r in rows:
        mark = "" if r["score"] >= GOAL else "  < 85%"
        print(f"{r['module']:<32} {r['tried']:>6} {r['caught']:>7} {r['survived']:>9} {r['equivalent']:>7} "
              f"{r['score']:>7.1%} {timings[r['group']]:>6.0f}s{mark}")
    for r in rows:
        if r["survivors"]:
            print(f"\nsurvivors of {r['module']} (see with: cd var/mutation/{r['group']} && "
                  f"../../../.venv/bin/mutmut show NAME):")
            for k in r["survivors"]:
                print(f"  {k}")
        for k in r["stale_equivalents"]:
            print(f"  note: {k} is listed as equivalent but a test catches it now; remove it")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help="groups of mutation/modules.toml (default: all)")
    parser.add_argument("--smoke", action="store_true", help="the CI smoke: a few mutants of one module")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    parser.add_argument("--report", action="store_true", help="only the table of the last run's results")
    args = parser.parse_args(argv)
    groups, smoke, equivalent = load_groups()
    unknown = [g for g in args.groups if g not in groups]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(groups)}")
    if args.smoke:
        # its own scratch folder and, if given, a smaller test selection than the group's
        groups = {**groups, "smoke": {**groups[smoke["group"]], **({"tests": smoke["tests"]} if "tests" in smoke else {})}}
        plan = [("smoke", smoke["mutants"])]
    else:
        plan = [(g, None) for g in (args.groups or groups)]
    rows, timings = [], {}
    for name, mutants in plan:
        if args.report:
            codes, timings[name] = read_results(name, groups[name]), 0.0
        else:
            print(f"mutating {groups[name]['module']} ...", flush=True)
            codes, timings[name] = run_group(name, groups[name], mutants)
        rows.append(score(name, groups[name], codes, equivalent))
    report(rows, timings)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "seconds": timings}, indent=2))
    if args.smoke:
        # the smoke proves the set-up works: mutants were generated and run, and every one caught
        row = rows[0]
        ok = row["tried"] > 0 and row["survived"] == 0
        print("mutation smoke:", "ok" if ok else "FAILED (no mutant tried, or one survived)")
        return 0 if ok else 1
    return 0 if all(r["score"] >= GOAL for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
