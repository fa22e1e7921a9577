"""koppel run's progress line: a bar and the time left once the sources said how much they will read."""

from __future__ import annotations

import io

from runtime.engine.cli import _Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def counts(read: int, delivered: int = 0, dead: int = 0) -> dict:
    return {"read": read, "delivered": delivered, "skipped": 0, "dead": dead}


def test_without_a_total_the_line_has_counts_only():
    progress = _Progress("interface 13", stream=Terminal(), clock=lambda: 0.0)
    assert progress.line(counts(5, 4)) == "interface 13: read 5  delivered 4  skipped 0  dead 0"


def test_the_eta_is_the_records_left_times_the_time_per_record_so_far():
    now = [0.0]
    progress = _Progress("interface 13", stream=Terminal(), clock=lambda: now[0])
    progress.expect(150)
    progress.expect(50)  # a second source
    progress.expect(None)  # an outbox source cannot say
    now[0] = 100.0  # 50 records in 100 s: 2 s each, 150 to go
    assert progress.line(counts(50, 49, 1)) == (
        "interface 13: [#####---------------] 50/200  ETA 5m00s  delivered 49  dead 1")
    now[0] = 400.0
    assert progress.line(counts(200, 200)).endswith("200/200  ETA 0m00s  delivered 200  dead 0")


def test_hours_are_shown_as_hours_and_a_pipe_gets_nothing():
    now = [0.0]
    progress = _Progress("interface 13", stream=Terminal(), clock=lambda: now[0])
    progress.expect(20_000)
    now[0] = 20.0
    assert "ETA 11h06m" in progress.line(counts(10))  # 2 s per student, 19,990 to go
    piped = io.StringIO()
    quiet = _Progress("interface 13", stream=piped)
    assert not quiet.wants_total
    quiet(counts(1))
    quiet.done()
    assert piped.getvalue() == ""
