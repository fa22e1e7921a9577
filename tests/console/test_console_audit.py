"""The audit trail: append-only in the database itself (SQLite and PostgreSQL), masked, and
readable with ``koppel audit list``."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from runtime.engine import audit
from runtime.engine.audit import Actor
from runtime.engine.state.store import StateStore
from tests import pgdb


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        yield s
        s.close()
        return
    with pgdb.database("audit") as url:
        s = StateStore(url)
        yield s
        s.close()


def test_entries_are_kept_masked_and_newest_first(store):
    first = audit.record(store, Actor("operator", "operator"), "replay", interface_id=11, subject="dead letter(s) 4",
                         reason="student 111222333 asked", outcome="1 delivered")
    second = audit.record(store, Actor("anne", "operator"), "discard", interface_id=15, reason="duplicate")
    rows = audit.entries(store)
    assert [r["id"] for r in rows] == [second, first]
    assert rows[1]["reason"] == "student *****2333 asked"
    assert [r["id"] for r in audit.entries(store, action="replay")] == [first]
    assert [r["id"] for r in audit.entries(store, actor="anne")] == [second]
    with pytest.raises(ValueError, match="unknown audit action 'delete'"):
        audit.record(store, Actor("x", "operator"), "delete")


def test_the_database_refuses_to_change_or_remove_an_entry(store):
    audit.record(store, Actor("operator", "operator"), "run", interface_id=4, outcome="ok")
    for statement in ["UPDATE koppel_audit SET reason = 'rewritten'", "DELETE FROM koppel_audit"]:
        with pytest.raises(sa.exc.DBAPIError, match="koppel_audit is append-only"), store.engine.begin() as c:
            c.execute(sa.text(statement))
    assert [r["outcome"] for r in audit.entries(store)] == ["ok"]


def test_koppel_audit_list_shows_who_what_and_why(tmp_path, monkeypatch):
    from runtime.cli import main

    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("KOPPEL_STATE_URL", url)
    store = StateStore(url)
    audit.record(store, Actor("operator", "operator"), "replay", interface_id=11, subject="dead letter(s) 1",
                 reason="mapping fixed", outcome="1 delivered")
    store.close()
    runner = CliRunner()
    text = runner.invoke(main, ["--project", str(tmp_path), "audit", "list"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[1].split()[3:8] == ["operator", "operator", "replay", "11", "dead"]
    assert lines[2].strip() == "why: mapping fixed; outcome: 1 delivered"
    as_json = runner.invoke(main, ["--project", str(tmp_path), "audit", "list", "--format", "json", "--action", "run"])
    assert as_json.exit_code == 0 and as_json.output == ""
    entry = json.loads(runner.invoke(main, ["--project", str(tmp_path), "audit", "list", "--format", "json"]).output)
    assert (entry["actor"], entry["action"], entry["reason"]) == ("operator", "replay", "mapping fixed")
