"""Shared fixtures: the project root, and a scratch copy of the project to break on purpose.

Also the session-wide test settings: the hypothesis profile of the scale the suite runs at
(tests/scale.py: ``ci`` by default, ``full`` with ``KOPPEL_TEST_SCALE=full``), and the batched drops of
the throwaway PostgreSQL databases (tests/pgdb.py), between tests and at the session's end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import settings

from tests import pgdb
from tests.fakeclock import THREAD_AWARE
from tests.scale import FULL, SCALE

ROOT = Path(__file__).resolve().parent.parent

# koppel validate keeps its verdicts in a cache folder (runtime/cli/validate_cache.py): the tests'
# scratch projects go to one of this session's own, not to the user's ~/.cache/koppel, and every
# `koppel` child process inherits it
os.environ.setdefault("KOPPEL_CACHE_DIR", tempfile.mkdtemp(prefix="koppel-test-cache-"))

# Only the tests that do not set max_examples themselves follow the profile; the long ones scale
# theirs with tests.scale.scaled. ``full`` draws many more, ``ci`` keeps hypothesis's own 100.
settings.register_profile("ci", max_examples=100)
settings.register_profile("full", max_examples=500)
settings.load_profile(SCALE)


def pytest_report_header(config) -> str:  # noqa: ANN001
    return f"koppel test scale: {SCALE}" + ("" if FULL else " (KOPPEL_TEST_SCALE=full for the long figures)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):  # noqa: ANN001, ANN201
    yield
    pgdb.flush(at_least=pgdb.BATCH)  # between tests: see tests/pgdb.py


# The clock every thread shares: a test that fakes it for all of them stalls the event loops of the
# stand-ins other tests keep running (tests/fakeclock.py says how, and what to use instead)
_CLOCKS = {name: getattr(time, name) for name in ("monotonic", "sleep", "time", "perf_counter")}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):  # noqa: ANN001, ANN201
    result = yield
    faked = [name for name, real in _CLOCKS.items()
             if getattr(time, name) is not real and not getattr(getattr(time, name), THREAD_AWARE, False)]
    if faked:
        pytest.fail(f"time.{', time.'.join(faked)} replaced for every thread: use "
                    "tests.fakeclock.patch_for_this_thread", pytrace=False)
    return result


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ANN001
    failed = pgdb.drain()
    if failed:
        session.config.get_terminal_writer().line(f"could not drop {len(failed)} test database(s): {failed[:3]}")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture()
def project_copy(tmp_path: Path) -> Path:
    """A copy of the definitions (catalog, interfaces, mappings, contracts) to edit in a test."""
    for name in ("catalog.yaml", "interfaces", "mappings", "contracts", "sandbox/secrets"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name)
        elif src.exists():
            shutil.copy(src, tmp_path / name)
    return tmp_path

