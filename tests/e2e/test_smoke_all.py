"""Every active interface runs end to end against its stand-in and succeeds."""

from __future__ import annotations

import pytest

OUTBOUND_BATCH = [4, 5, 13, 14, 17, 25]


@pytest.mark.parametrize("interface_id", OUTBOUND_BATCH)
def test_outbound_batch_interface_delivers(college, interface_id: int) -> None:
    summary = college.run(interface_id)
    assert summary.outcome == "ok", summary
    assert summary.read > 0 and summary.delivered > 0, summary
    assert summary.dead == 0
