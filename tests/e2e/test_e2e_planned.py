"""Interface 20 (CRM) is planned: it validates and dry-runs, and is never run or scheduled."""

from __future__ import annotations

import pytest

from runtime.errors import ConfigError


def test_20_dry_runs_but_does_not_run(college) -> None:
    from runtime.engine.dryrun import dry_run

    items = dry_run(college.engine, 20, limit=3)
    assert 0 < len(items) <= 3
    with pytest.raises(ConfigError, match="planned"):
        college.run(20)
    assert not college.received("crm")
