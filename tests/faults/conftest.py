"""The fault suite: real plugins against real servers on 127.0.0.1 that fail at random.

Hypothesis draws the fault schedules (rate, kinds, seed) and the data (records, later versions,
refused records). CI runs a few examples per plugin, seeded so a failure repeats;
``KOPPEL_TEST_SCALE=full`` (`make test-long`) runs 50, ``KOPPEL_FAULT_EXAMPLES=N`` any number (``KOPPEL_FAULT_SEED`` changes the seed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parents[1]
for folder in (_TESTS / "engine", _TESTS / "faultkit", _TESTS):
    if str(folder) not in sys.path:
        sys.path.insert(1, str(folder))


@pytest.fixture
def workdir(tmp_path_factory):
    """A fresh folder per hypothesis example (tmp_path is one per test, shared by examples)."""
    return lambda: tmp_path_factory.mktemp("example")


@pytest.fixture(scope="session")
def sshd():
    """A real OpenSSH sshd on 127.0.0.1 (sandbox/sftp/server.py), as the sftp plugin's tests use."""
    import os
    import shutil
    import tempfile

    from sandbox.sftp.server import SshdUnavailable, free_port, start

    state = Path(tempfile.mkdtemp(prefix="koppel-faults-sftp-"))
    os.chmod(state, 0o755)  # the login account must reach its folders
    try:
        server = start(_TESTS.parent, free_port(), state_dir=state, start_dir=state, systems=("facet",),
                       partners=False)
    except SshdUnavailable as exc:
        shutil.rmtree(state, ignore_errors=True)
        pytest.skip(f"no sshd for the sftp fault tests: {exc}")
    yield server
    server.stop()
    shutil.rmtree(state, ignore_errors=True)
