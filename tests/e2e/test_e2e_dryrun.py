"""Dry-run on the whole college: what would be sent, masked, with nothing sent or recorded."""

from __future__ import annotations

import re

from runtime.redact import elfproef


def test_dry_run_from_start_shows_a_realtime_interface_at_work_masked(college) -> None:
    from runtime.engine.dryrun import dry_run

    runs_before = len(college.engine.store.list_runs(limit=10_000))
    received_before = len(college.received("duo-rod"))
    items = dry_run(college.engine, 15, limit=3, from_start=True)
    sent = [i for i in items if i.status == "send"]
    assert sent, [i.status for i in items]
    text = "\n".join(i.rendered for i in sent)
    assert "aanleveren_inschrijving" in text and "burgerservicenummer" in text
    assert not [n for n in re.findall(r"(?<!\d)\d{9}(?!\d)", text) if elfproef(n)]  # no BSN shown
    assert len(college.engine.store.list_runs(limit=10_000)) == runs_before  # nothing recorded
    assert len(college.received("duo-rod")) == received_before  # nothing sent
