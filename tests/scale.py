"""How big the long tests run: ``KOPPEL_TEST_SCALE=ci`` (the default, what `make test` and CI run)
or ``full`` (`make test-long`).

At ``ci`` scale the fault, outage, bounce, crash and load tests run every case they have, with
fewer records, shorter outages and fewer hypothesis examples, so the suite stays at a few
minutes; ``full`` runs them at the figures their docstrings were written for. A test's own
environment variable (``KOPPEL_OUTAGE_SECONDS``, ``KOPPEL_FAULT_EXAMPLES``, ...) still wins over
either, so one figure can be pushed without the rest.
"""

from __future__ import annotations

import os

SCALES = ("ci", "full")
SCALE = os.environ.get("KOPPEL_TEST_SCALE", "ci").strip().lower() or "ci"
if SCALE not in SCALES:
    raise SystemExit(f"KOPPEL_TEST_SCALE={SCALE!r}: expected one of {', '.join(SCALES)}")
FULL = SCALE == "full"


def scaled(ci, full, env: str | None = None):  # noqa: ANN001, ANN201 - int, float or str alike
    """``full`` at full scale, else ``ci``; the environment variable ``env``, when set, overrides
    both (converted to the type of ``ci``)."""
    if env and os.environ.get(env):
        return type(ci)(os.environ[env])
    return full if FULL else ci
