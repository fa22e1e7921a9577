"""`koppel run 13` for N new students: hPGNs on every core (parallel mapping) against one core.

Interface 13 as shipped, in a copy of the project: a seeded SIS store (SQLite) whose first N
students have no ECK-iD yet, the ECK-iD stand-in of the sandbox (the real WSDL, batch operations),
and Koppel's engine. Each student costs one scrypt of Kennisnet's parameters (N=131072, r=8, p=4:
~128 MiB, about 1-2 s on this machine); the run is measured twice in fresh processes and state
databases, once with the mapping pool on one thread (``KOPPEL_MAPPING_THREADS=1``: the serial
baseline, as before this change) and once on every core. A plain loop of ``hashlib.scrypt`` over
the same numbers, in this process, shows what the hashing alone costs.

    .venv/bin/python bench/bench_eckid.py [--students 20]      # the issue's figure: --students 200

Prints the three times, the ratio parallel / serial (ideal: 1 / cores) and the overhead of the
whole run over plain hashing. On a shared machine the other processes take their share of the
cores: the ratio is only as good as the cores that were free.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prepare(students: int) -> tuple[Path, list[str]]:
    """A project copy with free ports and a seeded store whose first N students wait for interface 13."""
    import sqlalchemy as sa

    from runtime.settings import documents_dir, sis_url
    from runtime.sis import schema
    from runtime.sis.seed import seed_store
    from tests.e2e.conftest import copy_project, rewrite_ports

    root = Path(tempfile.mkdtemp(prefix="bench-eckid-"))
    copy_project(root)
    rewrite_ports(root / "catalog.yaml")
    url = sis_url(root)
    schema.init(url)
    seed_store(url, students=students, seed=13, documents_dir=documents_dir(root))
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        people = [r[0] for r in connection.execute(sa.text(
            "SELECT p.person_number FROM person p JOIN student s ON s.person_number = p.person_number "
            "WHERE p.bsn IS NOT NULL ORDER BY s.student_number LIMIT :n"), {"n": students})]
        pgns = [r[0] for r in connection.execute(sa.text(
            "SELECT bsn FROM person WHERE person_number IN (" + ",".join(f"'{p}'" for p in people) + ")"))]
    engine.dispose()
    return root, pgns


def reset(root: Path, students: int) -> None:
    """Every chosen student without an ECK-iD again (and only those: the others keep theirs)."""
    import sqlalchemy as sa

    from runtime.settings import sis_url

    engine = sa.create_engine(sis_url(root))
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE person SET eck_id = 'https://ketenid.nl/201703/kept', eck_id_pgn = 'bsn'"))
        connection.execute(sa.text(
            "UPDATE person SET eck_id = NULL, eck_id_pgn = NULL WHERE person_number IN (SELECT p.person_number "
            "FROM person p JOIN student s ON s.person_number = p.person_number WHERE p.bsn IS NOT NULL "
            "ORDER BY s.student_number LIMIT :n)"), {"n": students})
    engine.dispose()


def child(root: Path) -> None:
    """One `koppel run 13` in this process, with a fresh state database; prints JSON."""
    from runtime.engine import Engine
    from runtime.project import load_project
    from sandbox.runner import Sandbox

    os.environ["KOPPEL_STATE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='bench-eckid-state-')}/state.db"
    from runtime.settings import sis_url

    os.environ["KOPPEL_SIS_URL"] = sis_url(root)
    project = load_project(root).require_valid()
    with Sandbox(root, names=["kennisnet"], include_services=False).start():
        engine = Engine(project, environment="sandbox")
        started = time.perf_counter()
        summary = engine.run_interface(13, "manual")
        elapsed = time.perf_counter() - started
        engine.close()
    print(json.dumps({"seconds": elapsed, "outcome": summary.outcome, "read": summary.read,
                      "delivered": summary.delivered, "dead": summary.dead}))


def measure(root: Path, students: int, threads: int | None) -> dict:
    reset(root, students)
    env = {**os.environ, "KOPPEL_ENV": "sandbox"}
    env.pop("KOPPEL_MAPPING_THREADS", None)
    if threads:
        env["KOPPEL_MAPPING_THREADS"] = str(threads)
    done = subprocess.run([sys.executable, __file__, "--child", str(root)], env=env, capture_output=True, text=True,
                          check=True, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if (result["outcome"], result["delivered"]) != ("ok", students):
        raise SystemExit(f"the run did not deliver every student: {result}")
    return result


def plain(pgns: list[str]) -> float:
    import base64

    from runtime.mapping.functions.ids import _SCRYPT, ECKID_REFERENCE_SALT

    salt = base64.b64decode(ECKID_REFERENCE_SALT)
    started = time.perf_counter()
    for pgn in pgns:
        hashlib.scrypt(pgn.lower().encode(), salt=salt, **_SCRYPT)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    cores = len(os.sched_getaffinity(0))
    root, pgns = prepare(args.students)
    print(f"interface 13 for {args.students} new students, {cores} cores, Kennisnet's scrypt parameters")
    hashing = plain(pgns)
    print(f"  plain hashlib.scrypt, one after another: {hashing:7.1f} s  ({hashing / len(pgns):.2f} s per student)")
    serial = measure(root, args.students, threads=1)["seconds"]
    print(f"  koppel run 13, mapping on one thread:    {serial:7.1f} s")
    parallel = measure(root, args.students, threads=None)["seconds"]
    print(f"  koppel run 13, mapping on every core:    {parallel:7.1f} s")
    print(f"  parallel / serial: {parallel / serial:.2f} (ideal {1 / cores:.2f} on {cores} cores); "
          f"serial run / plain hashing: {serial / hashing:.2f}")
    load = os.getloadavg()[0]
    print(f"  load average during the runs: {load:.1f} on {cores} cores"
          + ("  (the cores were busy with other work: the ratio shows what was left)" if load > cores else ""))


if __name__ == "__main__":
    main()
