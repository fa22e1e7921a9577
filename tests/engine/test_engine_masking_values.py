"""Every output path masks the values the redact unit tests pin: an integer BSN, a BSN keyed dict,
a tuple, a nested list, a 5-character secret and two overlapping ones.

The paths: ``koppel dry-run``, ``koppel deadletters show``, the JSON log lines (message, extra
fields of any type, the exception), ``koppel test``'s diff. Each is checked for what it must still
show (the last four digits, the field names) as well as for what it must not.
"""

from __future__ import annotations

import json
import logging
import uuid

import engine_fakes as fakes

from runtime import secrets
from runtime.engine import cli
from runtime.mapping import testing
from runtime.plugin import Record

INT_BSN = 123456782
TEXT_BSN = "111222333"


def _secrets(monkeypatch) -> tuple[str, str, str]:
    short = "K" + uuid.uuid4().hex[:4]               # 5 characters
    left = "L" + uuid.uuid4().hex[:7]                # 8 characters ...
    right = left[4:] + "R" + uuid.uuid4().hex[:3]    # ... whose tail starts this one
    for name, value in (("SHORT_T", short), ("LEFT_T", left), ("RIGHT_T", right)):
        monkeypatch.setenv(name, value)
        assert secrets.resolve(f"${{env:{name}}}") == value  # resolving registers it for masking
    return short, left, right


def _record(i: int, short: str, left: str, right: str) -> Record:
    return Record(key=f"k{i}", data={
        "id": f"k{i}",
        "bsn": INT_BSN,
        "pair": (TEXT_BSN, INT_BSN),
        "by_bsn": {TEXT_BSN: {"token": short}},
        "nested": [{"auth": [f"{left[:4]}{right}"]}],
    })


def _leaks(output: str, short: str, left: str, right: str) -> list[str]:
    return [v for v in (str(INT_BSN), TEXT_BSN, short, left, right, right[4:]) if v in output]


def test_dry_run_deadletters_show_and_json_logs_mask_every_shape(make_engine, monkeypatch, cli_on, json_logs):
    short, left, right = _secrets(monkeypatch)
    fakes.SOURCES["src"] = [_record(i, short, left, right) for i in range(3)]
    fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"k1"}, leak=True)
    engine = make_engine([{"id": 2, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "tgt"}]}])
    runner, logs = cli_on(engine), json_logs
    log = logging.getLogger("koppel.test.masking")
    log.info("peer said %s", (TEXT_BSN, short), extra={"bsn": INT_BSN, "pair": (INT_BSN, left),
                                                       "obj": Record(key=TEXT_BSN, data={"t": right})})
    try:
        raise ValueError(f"bad {INT_BSN} with {left[:4]}{right}")
    except ValueError:
        log.exception("while sending")
    dry = runner.invoke(cli.dry_run, ["2"], obj={})
    run = runner.invoke(cli.run, ["2"], obj={})
    show = runner.invoke(cli.deadletters, ["show", "1"], obj={})
    assert dry.exit_code == 0, dry.output
    assert run.exit_code == 3 and "dead 1" in run.output, run.output
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    first = next(entry for entry in lines if entry["msg"].startswith("peer said"))
    assert first["msg"] == "peer said ('*****2333', '*****')"
    assert first["bsn"] == "*****6782" and first["pair"] == ["*****6782", "*****"]
    assert TEXT_BSN not in json.dumps(first["obj"]) and "*****2333" in json.dumps(first["obj"])
    failing = next(entry for entry in lines if entry["msg"] == "while sending")
    assert "ValueError: bad *****6782 with *****" in failing["exception"]
    # what the person reading still needs: the shape, the field names, the last four digits
    assert "*****6782" in dry.output and "by_bsn" in dry.output and "*****2333" in dry.output
    assert "*****6782" in show.output and "*****2333" in show.output and "nested" in show.output
    everything = dry.output + run.output + show.output + logs.getvalue()
    assert _leaks(everything, short, left, right) == []
    # the stored dead letter keeps the real values, so a replay sends what was read
    stored = engine.store.dead_letter(1)["record"]["data"]
    assert stored["bsn"] == INT_BSN and stored["by_bsn"] == {TEXT_BSN: {"token": short}}


def test_koppel_test_diff_masks_integer_tuple_and_nested_bsns(monkeypatch):
    short, left, right = _secrets(monkeypatch)
    expected = {"bsn": INT_BSN, "pair": [TEXT_BSN], "deep": [{"k": short}]}
    actual = {"bsn": INT_BSN + 1, "pair": (TEXT_BSN, INT_BSN), "deep": [{"k": f"{left[:4]}{right}"}]}
    shown = testing.diff(expected, actual)
    # a field named bsn is masked whatever it holds (redact.PERSONAL_FIELDS); the change still shows
    assert "*****6782" in shown and "*****6783" in shown and "123456783" not in shown
    assert "*****2333" in shown and '"deep"' in shown
    assert _leaks(shown, short, left, right) == []
