"""Write-back: part of a target's answer is written into the SIS through the sis target plugin."""

from __future__ import annotations

import engine_fakes as fakes

from runtime.errors import RecordError
from runtime.plugin import Outcome, Plugin, Target

WRITES: list = []


class FakeSisTarget(Target):
    def __init__(self, spec, ctx) -> None:
        self.spec = spec

    def write(self, items):
        out = []
        for item in items:
            if item.payload.get("eck_id") == "bad":
                out.append(Outcome(error=RecordError("eck_id does not fit")))
            else:
                WRITES.append((self.spec.object, item.source_key, item.payload))
                out.append(Outcome())
        return out


def test_target_answer_is_written_back_and_a_failed_write_back_can_be_replayed(make_engine):
    from plugins.sis.spec import SisTarget

    from runtime.engine.deadletters import DeadLetters

    WRITES.clear()
    reg = fakes.registry({"sis": Plugin("sis", "fake sis", target_spec=SisTarget, create_target=FakeSisTarget,
                                        writeback_spec=lambda name: SisTarget(type="sis", system="sis", object=name))})
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([{"id": 13, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "tgt",
                                        "writeback": {"object": "person", "mapping": "eckid-terug"}}]}], registry=reg)
    answers = {"s0": "https://id.school/abc", "s1": "bad", "s2": "https://id.school/def"}

    def writeback_mapping(value):
        return {"student_number": value["record"]["id"], "eck_id": answers[value["response"]["id"]]}

    engine._mappings["eckid-terug"] = writeback_mapping
    summary = engine.run_interface(13)
    assert summary.delivered == 3 and summary.dead == 1
    assert [(o, k) for o, k, _ in WRITES] == [("person", "s0"), ("person", "s2")]
    [letter] = engine.store.dead_letters(interface_id=13)
    assert letter["stage"] == "writeback" and letter["payload"] == {"response": {"id": "s1"}}

    answers["s1"] = "https://id.school/ghi"
    assert [r.status for r in DeadLetters(engine).replay(interface_id=13)] == ["delivered"]
    assert WRITES[-1] == ("person", "s1", {"student_number": "s1", "eck_id": "https://id.school/ghi"})
    assert len(fakes.TARGETS["tgt"].received) == 3  # the delivery itself was not repeated


def test_a_replayed_delivery_is_written_back_and_a_write_back_failing_then_is_a_letter_of_its_own(make_engine):
    """A record the target refused, replayed once the target takes it: its answer goes into the
    SIS as a run's would (before, the replay delivered it and skipped the write-back, so the SIS
    never got e.g. a Signhost transaction id or a fetched file's name). A write-back that fails
    during the replay becomes a write-back letter; the delivery is not repeated for it."""
    from plugins.sis.spec import SisTarget

    from runtime.engine.deadletters import DeadLetters

    WRITES.clear()
    reg = fakes.registry({"sis": Plugin("sis", "fake sis", target_spec=SisTarget, create_target=FakeSisTarget,
                                        writeback_spec=lambda name: SisTarget(type="sis", system="sis", object=name))})
    fakes.SOURCES["src"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1", "s2"})
    engine = make_engine([{"id": 13, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "tgt",
                                        "writeback": {"object": "person", "mapping": "eckid-terug"}}]}], registry=reg)
    answers = {"s0": "https://id.school/abc", "s1": "https://id.school/def", "s2": "bad"}
    engine._mappings["eckid-terug"] = lambda v: {"student_number": v["record"]["id"], "eck_id": answers[v["response"]["id"]]}
    summary = engine.run_interface(13)
    assert (summary.delivered, summary.dead) == (1, 2)
    assert [k for _, k, _ in WRITES] == ["s0"]
    letters = {d["source_key"]: d for d in engine.store.dead_letters(interface_id=13)}
    assert {d["stage"] for d in letters.values()} != {"writeback"}

    target.reject.clear()  # the target takes them now
    results = {r.id: r.status for r in DeadLetters(engine).replay(interface_id=13)}
    assert results == {letters["s1"]["id"]: "delivered", letters["s2"]["id"]: "delivered"}
    assert WRITES[-1] == ("person", "s1", {"student_number": "s1", "eck_id": "https://id.school/def"})
    [left] = engine.store.dead_letters(interface_id=13)  # s2's write-back was refused by the SIS
    assert (left["stage"], left["source_key"], left["payload"]) == ("writeback", "s2", {"response": {"id": "s2"}})

    answers["s2"] = "https://id.school/ghi"
    delivered_before = len(target.received)
    assert [r.status for r in DeadLetters(engine).replay(interface_id=13)] == ["delivered"]
    assert WRITES[-1] == ("person", "s2", {"student_number": "s2", "eck_id": "https://id.school/ghi"})
    assert len(target.received) == delivered_before  # only the write-back was redone


def test_write_back_finds_its_store_by_capability_and_says_when_none_declares_it(make_engine):
    # runtime/ names no plugin: the store a write-back goes to is the plugin that declares
    # writeback_spec (runtime/plugin.py); without one the run stops and says what is missing
    from plugins.sis.spec import SisTarget

    reg = fakes.registry({"sis": Plugin("sis", "fake sis", target_spec=SisTarget, create_target=FakeSisTarget)})
    fakes.SOURCES["src"] = fakes.records(1)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([{"id": 13, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "tgt",
                                        "writeback": {"object": "person", "mapping": "eckid-terug"}}]}], registry=reg)
    engine._mappings["eckid-terug"] = lambda value: {"student_number": value["record"]["id"]}
    summary = engine.run_interface(13)
    assert summary.outcome == "error"
    assert summary.message == "write-back needs exactly one plugin that declares writeback_spec; found: none"


def test_runtime_names_no_plugin():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "runtime" / "engine"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if "from plugins" in p.read_text() or "import plugins" in p.read_text()]
    assert offenders == []
