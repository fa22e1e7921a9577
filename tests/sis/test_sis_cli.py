"""``koppel sis``: init, seed, outbox --tail (masked), stats."""

from __future__ import annotations

from click.testing import CliRunner

from runtime.cli import main


def _koppel(store, monkeypatch, *args):
    monkeypatch.setenv("KOPPEL_SIS_URL", store.url)
    return CliRunner().invoke(main, ["sis", *args], catch_exceptions=False)


def test_init_seed_outbox_and_stats(store, monkeypatch):
    result = _koppel(store, monkeypatch, "init")
    assert result.exit_code == 0 and "up to date" in result.output
    result = _koppel(store, monkeypatch, "seed", "--students", "40", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "student" in result.output and "rows/s" in result.output
    again = _koppel(store, monkeypatch, "seed", "--students", "40", "--seed", "3")
    assert again.exit_code == 1 and "already holds" in again.output

    # a company whose SBB code happens to pass the elfproef is masked like a BSN would be
    store.sql("INSERT INTO company (sbb_code, name) VALUES ('123456782', 'Elfproef BV')")
    result = _koppel(store, monkeypatch, "outbox", "--tail", "2")
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert "insert" in lines[-1] and "company" in lines[-1]
    assert "123456782" not in result.output and "*****6782" in result.output
    result = _koppel(store, monkeypatch, "outbox", "--tail", "3", "--object", "student")
    assert [line.split()[-1] for line in result.output.strip().splitlines()] == ["S100038", "S100039", "S100040"]

    result = _koppel(store, monkeypatch, "stats")
    assert result.exit_code == 0 and "student" in result.output and "40" in result.output


def test_a_wrong_url_is_a_clear_message_without_password(monkeypatch):
    class Broken:
        url = "postgresql+psycopg://koppel:geheim@127.0.0.1:1/sis?connect_timeout=2"

    result = _koppel(Broken, monkeypatch, "init")
    assert result.exit_code == 1
    assert "geheim" not in result.output and "SIS store" in result.output


def test_acceptance_seed_2000_then_plain_sql_update_reaches_outbox_and_listeners(store, monkeypatch):
    """The issue's check: init, seed 2000 students, update from another client."""
    assert _koppel(store, monkeypatch, "init").exit_code == 0
    result = _koppel(store, monkeypatch, "seed", "--students", "2000", "--seed", "42")
    assert result.exit_code == 0, result.output
    listener = None
    if store.engine_name == "postgresql":
        listener = store.connect()
        listener.execute("LISTEN koppel_outbox")
    last = store.sql("SELECT max(seq) FROM outbox")[0][0]
    store.sql("UPDATE enrollment SET bekostigbaar = ? WHERE enrollment_id = 'S101234-1'", (False,))
    assert store.sql("SELECT object, key, op FROM outbox WHERE seq > ?", (last,)) == [("enrollment", "S101234-1", "update")]
    if listener is not None:
        assert [n.payload for n in listener.notifies(timeout=5, stop_after=1)] == ["enrollment"]
        listener.close()
