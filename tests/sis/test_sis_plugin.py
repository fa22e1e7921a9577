"""The sis plugin as the engine uses it: a source read in batches, a target written by key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import plugins.sis as sis_plugin
from runtime.errors import ConfigError, ContractError, RecordError, TransientError
from runtime.plugin import Item, PluginContext
from runtime.redact import elfproef


def _ctx(store, monkeypatch, **options) -> PluginContext:
    monkeypatch.setenv("KOPPEL_SIS_URL", store.url)  # the way the engine finds the store
    return PluginContext(environment="sandbox", project_root=Path("."), options=options)


def _source(store, monkeypatch, batch_size=500, **spec):
    spec = sis_plugin.plugin.source_spec(type="sis", **spec)
    source = sis_plugin.plugin.create_source(spec, _ctx(store, monkeypatch, batch_size=batch_size))
    source.open()
    return source


def _target(store, monkeypatch, **spec):
    spec = sis_plugin.plugin.target_spec(type="sis", system="sis", **spec)
    target = sis_plugin.plugin.create_target(spec, _ctx(store, monkeypatch))
    target.open()
    return target


def _drain(source, cursor):
    batches = list(source.read(cursor))
    records = [r for b in batches for r in b.records]
    return batches, records, (batches[-1].cursor if batches else cursor)


# --- source --------------------------------------------------------------------------------


def test_outbox_source_starts_at_the_end_then_sees_sql_changes_with_includes(seeded, monkeypatch):
    source = _source(seeded, monkeypatch, object="student", include=["person", "enrollments.program"])
    try:
        batches, records, start = _drain(source, None)
        assert records == []
        assert start == str(seeded.sql("SELECT max(seq) FROM outbox")[0][0])  # stored, so nothing is skipped
        seeded.sql("UPDATE student SET status = 'uitgeschreven' WHERE student_number = 'S100002'")
        seeded.sql("UPDATE person SET given_name = 'Anouk' WHERE person_number = 'P100003'")  # an included row
        seeded.sql("DELETE FROM role_assignment WHERE person_number = 'P100004'")
        seeded.sql("DELETE FROM membership WHERE person_number = 'P100004'")
        seeded.sql("DELETE FROM application WHERE person_number = 'P100004'")
        for table in ("result", "absence", "absence_report", "document", "exam_candidate", "invoice_line"):
            seeded.sql(f'DELETE FROM "{table}" WHERE student_number = ?', ("S100004",))
        seeded.sql("DELETE FROM enrollment WHERE student_number = 'S100004'")
        seeded.sql("DELETE FROM student WHERE student_number = 'S100004'")
        _, records, cursor = _drain(source, start)
        assert [(r.key, r.operation) for r in records] == [
            ("S100002", "upsert"), ("S100004", "delete"), ("S100003", "upsert")
        ]
        assert records[2].data["person"]["given_name"] == "Anouk"
        record = records[0].data
        assert record["status"] == "uitgeschreven"
        assert record["person"]["person_number"] == "P100002"
        assert elfproef(record["person"]["bsn"]) or record["person"]["onderwijsnummer"]
        assert record["enrollments"] and record["enrollments"][0]["program"]["crebo"]
        assert records[1].data == {"student_number": "S100004"}
        json.dumps(record)  # plain JSON
        assert _drain(source, cursor)[1] == []
    finally:
        source.close()


def test_outbox_source_batches_are_bounded_and_replay_from_zero(seeded, monkeypatch):
    source = _source(seeded, monkeypatch, batch_size=40, object="enrollment", include=["periods", "student.person"])
    try:
        batches, records, _ = _drain(source, "0")
        total = seeded.sql("SELECT count(*) FROM enrollment")[0][0]
        # a replay also meets the inserts of every included row: some records come more than once
        assert len({r.key for r in records}) == total
        assert all(len(b.records) <= 40 for b in batches)
        cursors = [int(b.cursor) for b in batches]
        assert cursors == sorted(cursors)
        assert all(r["periods"] and r["student"]["person"] for r in (x.data for x in records))
    finally:
        source.close()


def test_watermark_source_pages_then_returns_only_what_changed(seeded, monkeypatch):
    source = _source(seeded, monkeypatch, batch_size=100, mode="watermark", object="person")
    try:
        batches, records, cursor = _drain(source, None)
        assert len(records) == seeded.sql("SELECT count(*) FROM person")[0][0]
        assert len({r.key for r in records}) == len(records)
        assert all(len(b.records) <= 100 for b in batches)
        assert _drain(source, cursor)[1] == []
        seeded.sql("UPDATE person SET eck_id = 'https://ketenid.nl/201703/abc' WHERE person_number = 'P100007'")
        _, records, _ = _drain(source, cursor)
        assert [r.key for r in records] == ["P100007"]
        assert records[0].data["eck_id"] == "https://ketenid.nl/201703/abc"
    finally:
        source.close()


def test_full_source_with_where_filter_and_composite_keys(seeded, monkeypatch):
    source = _source(seeded, monkeypatch, batch_size=64, mode="full", object="membership", where="role == 'mentor'")
    try:
        batches, records, cursor = _drain(source, None)
        mentors = seeded.sql("SELECT count(*) FROM membership WHERE role = 'mentor'")[0][0]
        assert len(records) == mentors > 0
        assert cursor == ""  # the next run reads everything again
        assert len(_drain(source, cursor)[1]) == mentors
        middle = batches[0].cursor  # an interrupted run resumes after the last key it handled
        assert _drain(source, middle)[1][0].key > middle
        assert all(r.key == f"{r.data['group_code']}|{r.data['person_number']}" for r in records)
    finally:
        source.close()


def test_unknown_include_is_a_configuration_error(store, monkeypatch):
    with pytest.raises(ConfigError, match="no related object 'grades'"):
        _source(store, monkeypatch, object="student", include=["grades"])


def test_check_names_the_problems():
    spec = sis_plugin.plugin.source_spec(type="sis", object="student", include=["person", "enrollments.nope"])
    assert sis_plugin.plugin.check(spec, None) == [(("include", 1), "'enrollment' has no related object 'nope'; known: cohort, documents, exam_candidates, internships, periods, program, results, student")]
    spec = sis_plugin.plugin.target_spec(type="sis", system="sis", object="timetable_activity", operation="replace")
    assert [loc for loc, _ in sis_plugin.plugin.check(spec, None)] == [("replace_scope",)]
    spec = sis_plugin.plugin.target_spec(type="sis", system="sis", object="leerling")
    assert "unknown SIS object" in sis_plugin.plugin.check(spec, None)[0][1]


# --- target --------------------------------------------------------------------------------


def _items(*payloads, operation="upsert"):
    return [Item(key=str(i), payload=p, source_key=str(i), operation=operation) for i, p in enumerate(payloads)]


def test_upsert_inserts_then_updates_by_natural_key(store, monkeypatch):
    target = _target(store, monkeypatch, object="qualification")
    try:
        outcomes = target.write(_items({"crebo": "25998", "name": "Software developer", "level": 4,
                                        "valid_from": "2024-08-01"}))
        assert [o.ok for o in outcomes] == [True]
        outcomes = target.write(_items({"crebo": "25998", "name": "Software developer (2025)"}))
        assert outcomes[0].ok
        assert store.sql("SELECT name, level, valid_from FROM qualification")[0][:2] == ("Software developer (2025)", 4)
        ops = [r[0] for r in store.sql("SELECT op FROM outbox ORDER BY seq")]
        assert ops == ["insert", "update"]
        target.write(_items({"crebo": "25998", "name": "Software developer (2025)"}))  # the same again
        assert len(store.sql("SELECT op FROM outbox")) == 2  # no change, no outbox row
    finally:
        target.close()


def test_a_bad_record_fails_alone(store, monkeypatch):
    store.sql("INSERT INTO qualification (crebo, name, level) VALUES ('25998', 'Software developer', 4)")
    target = _target(store, monkeypatch, object="program")
    try:
        outcomes = target.write(_items(
            {"program_code": "25998-BOL", "crebo": "25998", "name": "SD", "level": 4, "leerweg": "BOL"},
            {"program_code": "99999-BOL", "crebo": "99999", "name": "?", "level": 4, "leerweg": "BOL"},  # no such crebo
            {"program_code": "25998-XXL", "crebo": "25998", "name": "SD", "level": 4, "leerweg": "XXL"},  # check
            {"program_code": "25998-BBL", "crebo": "25998", "name": "SD", "level": "vier", "leerweg": "BBL"},
            {"program_code": "25998-BBL", "crebo": "25998", "name": "SD", "level": 4, "leerweg": "BBL", "colour": 1},
            {"program_code": "25998-BBL", "crebo": "25998", "name": "SD", "level": 4, "leerweg": "BBL"},
        ))
        assert [o.ok for o in outcomes] == [True, False, False, False, False, True]
        assert all(isinstance(o.error, RecordError) for o in outcomes if not o.ok)
        assert isinstance(outcomes[3].error, ContractError) and outcomes[3].error.path == "level"
        assert outcomes[4].error.path == "colour"
        assert sorted(r[0] for r in store.sql("SELECT program_code FROM program")) == ["25998-BBL", "25998-BOL"]
    finally:
        target.close()


def test_update_writes_back_onto_existing_rows_only(seeded, monkeypatch):
    target = _target(seeded, monkeypatch, object="person", operation="update")
    try:
        outcomes = target.write(_items(
            {"person_number": "P100001", "eck_id": "https://ketenid.nl/201703/0f0f"},
            {"person_number": "P999999", "eck_id": "https://ketenid.nl/201703/0e0e"},
        ))
        assert outcomes[0].ok and not outcomes[1].ok
        assert "no person with this key" in str(outcomes[1].error)
        assert seeded.sql("SELECT eck_id FROM person WHERE person_number = 'P100001'") == [
            ("https://ketenid.nl/201703/0f0f",)
        ]
    finally:
        target.close()


def test_upsert_by_another_unique_key_never_shows_the_bsn(seeded, monkeypatch):
    bsn = seeded.sql("SELECT bsn FROM person WHERE person_number = 'P100001'")[0][0]
    target = _target(seeded, monkeypatch, object="person", key=["bsn"], operation="update")
    try:
        outcomes = target.write(_items({"bsn": bsn, "account_name": "s100001"}, {"bsn": "123456782", "city": "X"}))
        assert outcomes[0].ok and bsn not in (outcomes[0].reference or "")
        assert not outcomes[1].ok and "123456782" not in str(outcomes[1].error)
    finally:
        target.close()


def test_delete_and_outbox_deletes_passed_through(seeded, monkeypatch):
    target = _target(seeded, monkeypatch, object="exam_aid")
    try:
        key = seeded.sql("SELECT candidate_id, aid FROM exam_aid ORDER BY candidate_id, aid LIMIT 1")[0]
        outcomes = target.write(_items({"candidate_id": key[0], "aid": key[1]}, operation="delete"))
        assert outcomes[0].ok
        assert seeded.sql("SELECT count(*) FROM exam_aid WHERE candidate_id = ? AND aid = ?", key) == [(0,)]
        assert target.write(_items({"candidate_id": key[0], "aid": key[1]}, operation="delete"))[0].ok  # idempotent
    finally:
        target.close()


def test_replace_keeps_exactly_what_the_run_wrote_within_the_day(seeded, monkeypatch):
    day = "2026-09-07"
    before = seeded.sql("SELECT count(*) FROM timetable_activity WHERE date = ?", (day,))[0][0]
    other_days = seeded.sql("SELECT count(*) FROM timetable_activity WHERE date <> ?", (day,))[0][0]
    assert before > 2
    target = _target(seeded, monkeypatch, object="timetable_activity", operation="replace", replace_scope="date")

    def activity(n):
        return {"activity_id": f"NEW{n}", "date": day, "starts_at": f"{day}T08:30:00+02:00",
                "ends_at": f"{day}T10:00:00+02:00", "course_code": "25998-K1", "room": "B1.01"}

    try:
        assert all(o.ok for o in target.write(_items(activity(1))))
        assert all(o.ok for o in target.write(_items(activity(2))))  # second batch of the same run
        rows = seeded.sql("SELECT activity_id FROM timetable_activity WHERE date = ? ORDER BY activity_id", (day,))
        assert rows == [("NEW1",), ("NEW2",)]
        assert seeded.sql("SELECT count(*) FROM timetable_activity WHERE date <> ?", (day,))[0][0] == other_days
        starts = seeded.sql("SELECT starts_at FROM timetable_activity WHERE activity_id = 'NEW1'")[0][0]
        assert str(starts).startswith("2026-09-07 06:30")  # stored in UTC
    finally:
        target.close()


def test_an_unreachable_store_is_transient(monkeypatch):
    class Nowhere:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"

    target = _target(Nowhere, monkeypatch, object="qualification")
    try:
        with pytest.raises(TransientError):
            target.write(_items({"crebo": "25998", "name": "x", "level": 4}))
    finally:
        target.close()


def test_outbox_source_resends_records_whose_included_objects_changed(seeded, monkeypatch):
    source = _source(seeded, monkeypatch, object="enrollment", include=["student.person", "periods", "program"])
    try:
        start = str(seeded.sql("SELECT max(seq) FROM outbox")[0][0])
        seeded.sql("UPDATE person SET city = 'Houten' WHERE person_number = 'P100005'")  # two levels down
        seeded.sql("DELETE FROM enrollment_period WHERE enrollment_id = 'S100009-1' AND period_number = 1")
        seeded.sql("UPDATE qualification SET name = 'x' WHERE crebo = '25998'")  # not included: no records
        _, records, _ = _drain(source, start)
        expected = {r[0] for r in seeded.sql("SELECT enrollment_id FROM enrollment WHERE student_number = 'S100005'")}
        assert {r.key for r in records} == expected | {"S100009-1"}
        by_key = {r.key: r for r in records}
        assert by_key["S100009-1"].data["periods"] == [] or all(
            p["period_number"] != 1 for p in by_key["S100009-1"].data["periods"]
        )
        assert all(by_key[k].data["student"]["person"]["city"] == "Houten" for k in expected)
        assert by_key["S100009-1"].meta["via"] == "enrollment_period"
    finally:
        source.close()


def test_follow_includes_can_be_turned_off(seeded, monkeypatch):
    source = _source(seeded, monkeypatch, object="student", include=["person"], follow_includes=False)
    try:
        start = str(seeded.sql("SELECT max(seq) FROM outbox")[0][0])
        seeded.sql("UPDATE person SET city = 'Houten' WHERE person_number = 'P100005'")
        assert _drain(source, start)[1] == []
    finally:
        source.close()


def test_a_key_twice_in_one_batch_ends_as_the_last_one_wrote_it(store, monkeypatch):
    target = _target(store, monkeypatch, object="qualification")
    try:
        outcomes = target.write(_items(
            {"crebo": "25998", "name": "first", "level": 4},
            {"crebo": "25604", "name": "other", "level": 2},
            {"crebo": "25998", "name": "second"},
        ))
        assert [o.ok for o in outcomes] == [True, True, True]
        assert store.sql("SELECT crebo, name, level FROM qualification ORDER BY crebo") == [
            ("25604", "other", 2), ("25998", "second", 4)
        ]
    finally:
        target.close()


def test_a_company_with_its_recognitions_as_the_complete_set(seeded, monkeypatch):
    target = _target(seeded, monkeypatch, object="company", replace_children=["recognitions"])
    company = {"sbb_code": "100000068", "name": "Bakker Zorggroep", "recognitions": [
        {"crebo": "25480", "leerweg": "BBL", "start_date": "2024-01-01"},
        {"crebo": "25491", "leerweg": "BOL"},
    ]}
    try:
        assert [o.ok for o in target.write(_items(company))] == [True]
        company["recognitions"] = [{"crebo": "25491", "leerweg": "BOL", "status": "erkend"}]  # one withdrawn
        assert [o.ok for o in target.write(_items(company))] == [True]
        assert seeded.sql("SELECT crebo, leerweg FROM recognition WHERE sbb_code = '100000068'") == [("25491", "BOL")]
        bad = {**company, "recognitions": [{"crebo": "25491", "leerweg": "XXL"}]}  # a broken child fails it all
        outcome = target.write(_items(bad, {"sbb_code": "100000076", "name": "Other BV"}))
        assert [o.ok for o in outcome] == [False, True]
        assert seeded.sql("SELECT crebo, leerweg FROM recognition WHERE sbb_code = '100000068'") == [("25491", "BOL")]
    finally:
        target.close()


def test_children_without_replace_are_only_added(seeded, monkeypatch):
    aanmeld_id, person = seeded.sql(
        "SELECT a.aanmeld_id, a.person_number FROM application a JOIN document d ON d.aanmeld_id = a.aanmeld_id LIMIT 1"
    )[0]
    before = seeded.sql("SELECT count(*) FROM document WHERE aanmeld_id = ?", (aanmeld_id,))[0][0]
    target = _target(seeded, monkeypatch, object="application", operation="update")
    try:
        outcomes = target.write(_items({"aanmeld_id": aanmeld_id, "documents": [
            {"document_id": "intergrip:77", "kind": "doorstroomdossier", "title": "Doorstroomdossier",
             "person_number": person}]}))
        assert outcomes[0].ok, outcomes[0].error
        assert seeded.sql("SELECT count(*) FROM document WHERE aanmeld_id = ?", (aanmeld_id,))[0][0] == before + 1
    finally:
        target.close()


def test_a_group_of_role_assignments_replaces_the_role(seeded, monkeypatch):
    target = _target(seeded, monkeypatch, object="role_assignment", operation="replace", replace_scope="role")
    group = {"role": "studentassistent", "scope": "", "source": "iam", "role_assignments": [
        {"person_number": "P100001"}, {"person_number": "P100002"}]}
    try:
        assert target.write(_items(group))[0].ok
        group["role_assignments"] = [{"person_number": "P100002"}]
        assert target.write(_items(group))[0].ok
        rows = seeded.sql("SELECT person_number, source FROM role_assignment WHERE role = 'studentassistent'")
        assert rows == [("P100002", "iam")]
        assert target.write(_items({"role": "studentassistent", "role_assignments": []}))[0].ok  # group emptied
        assert seeded.sql("SELECT count(*) FROM role_assignment WHERE role = 'studentassistent'") == [(0,)]
        assert seeded.sql("SELECT count(*) FROM role_assignment WHERE role = 'student'")[0][0] > 0  # others stay
    finally:
        target.close()


def test_outbox_source_reads_past_long_stretches_of_other_objects(store, monkeypatch):
    from runtime.sis import outbox

    monkeypatch.setattr(outbox, "SCAN", 10)  # one read looks at 10 outbox rows at most
    for i in range(35):
        store.sql(f"INSERT INTO company (sbb_code, name) VALUES ('1000001{i:02d}', 'C{i}')")
    store.sql("INSERT INTO qualification (crebo, name, level) VALUES ('25998', 'Software developer', 4)")
    source = _source(store, monkeypatch, object="qualification")
    try:
        batches, records, cursor = _drain(source, "0")
        assert [r.key for r in records] == ["25998"]
        assert cursor == "36"
    finally:
        source.close()
