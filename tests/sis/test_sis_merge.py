"""``koppel sis merge-person KEEP DROP``: one human in two person rows becomes one, in one
transaction, on SQLite and PostgreSQL. The rows are written as another client would (plain SQL)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from runtime.cli import main
from runtime.sis.merge import MergeRefused, merge

APPLICANT = "P-A900001"


def _koppel(store, monkeypatch, *args):
    monkeypatch.setenv("KOPPEL_SIS_URL", store.url)
    return CliRunner().invoke(main, ["sis", *args])


def _a_student_person(store) -> tuple[str, str, str]:
    """(person number, BSN, last name) of a seeded student with a BSN and group memberships, its
    phone number removed (so that the merge has a field to fill)."""
    person, bsn, last_name = store.sql(
        "SELECT p.person_number, p.bsn, p.last_name FROM person p JOIN student s ON s.person_number = p.person_number "
        "WHERE p.bsn IS NOT NULL AND EXISTS (SELECT 1 FROM membership m WHERE m.person_number = "
        "p.person_number) ORDER BY p.person_number LIMIT 1")[0]
    store.sql("UPDATE person SET phone = NULL WHERE person_number = ?", (person,))
    return person, bsn, last_name


def _applicant(store, *, bsn: str | None = None, phone: str | None = "0612345678") -> None:
    """An applicant created before anyone knew who it was: two applications, a document, a
    membership of a group the student is in already, one of a group the student is not in."""
    store.sql("INSERT INTO person (person_number, bsn, last_name, phone) VALUES (?, ?, 'Onbekend', ?)",
              (APPLICANT, bsn, phone))
    (cohort,) = store.sql("SELECT cohort_code FROM cohort ORDER BY cohort_code LIMIT 1")[0]
    for n in (1, 2):
        store.sql("INSERT INTO application (aanmeld_id, person_number, cohort_code, channel) "
                  "VALUES (?, ?, ?, 'centraal_aanmelden')", (f"A90000{n}", APPLICANT, cohort))
    store.sql("INSERT INTO document (document_id, aanmeld_id, person_number, kind, title) "
              "VALUES ('DOC-M1', 'A900001', ?, 'lob', 'LOB-gesprek')", (APPLICANT,))


def _memberships(store, person: str) -> list[tuple]:
    return sorted(store.sql("SELECT group_code, role FROM membership WHERE person_number = ?", (person,)))


def test_an_applicant_merged_into_the_student_it_turned_out_to_be(seeded, monkeypatch) -> None:
    keep, bsn, last_name = _a_student_person(seeded)
    _applicant(seeded)
    shared = _memberships(seeded, keep)[0][0]
    (other,) = seeded.sql("SELECT group_code FROM \"group\" WHERE group_code NOT IN "
                          "(SELECT group_code FROM membership WHERE person_number = ?) ORDER BY group_code LIMIT 1",
                          (keep,))[0]
    seeded.sql("INSERT INTO membership (group_code, person_number, role) VALUES (?, ?, 'student'), (?, ?, 'student')",
               (shared, APPLICANT, other, APPLICANT))
    keep_groups = _memberships(seeded, keep)
    (outbox_before,) = seeded.sql("SELECT max(seq) FROM outbox")[0]

    result = _koppel(seeded, monkeypatch, "merge-person", keep, APPLICANT)

    assert result.exit_code == 0, result.output
    assert f"Merged person {APPLICANT} into {keep}" in result.output
    assert bsn not in result.output
    assert seeded.sql("SELECT count(*) FROM person WHERE person_number = ?", (APPLICANT,)) == [(0,)]
    assert sorted(seeded.sql("SELECT aanmeld_id, person_number FROM application WHERE aanmeld_id IN ('A900001', 'A900002')")) == [
        ("A900001", keep), ("A900002", keep)]
    assert seeded.sql("SELECT person_number FROM document WHERE document_id = 'DOC-M1'") == [(keep,)]
    # the shared group is one membership (KEEP's own), the other group moved over
    assert _memberships(seeded, keep) == sorted(keep_groups + [(other, "student")])
    # KEEP's own data wins; what it lacked comes from DROP
    assert seeded.sql("SELECT last_name, bsn, phone FROM person WHERE person_number = ?", (keep,)) == [
        (last_name, bsn, "0612345678")]
    # the outbox carries every change, so the interfaces send the result
    changes = seeded.sql("SELECT object, key, op FROM outbox WHERE seq > ? ORDER BY seq", (outbox_before,))
    assert ("person", APPLICANT, "delete") in changes
    assert ("person", keep, "update") in changes
    assert ("application", "A900001", "update") in changes and ("application", "A900002", "update") in changes
    assert ("membership", f"{other}|{APPLICANT}", "delete") in changes  # the key changed: delete + insert
    assert "moved    application" in result.output and "twin     membership" in result.output


def test_two_persons_with_different_bsns_are_refused_and_nothing_changes(seeded) -> None:
    keep, bsn, _ = _a_student_person(seeded)
    _applicant(seeded, bsn="123456782")
    (outbox_before,) = seeded.sql("SELECT max(seq) FROM outbox")[0]
    with pytest.raises(MergeRefused) as refused:
        merge(seeded.url, keep, APPLICANT)
    message = str(refused.value)
    assert message == (f"merge-person: {keep} and {APPLICANT} have different bsns, so they are two people for the "
                       "BRP and DUO; correct the wrong bsn first (nothing was changed)")
    assert bsn not in message and "123456782" not in message
    assert seeded.sql("SELECT count(*) FROM application WHERE person_number = ?", (APPLICANT,)) == [(2,)]
    assert seeded.sql("SELECT max(seq) FROM outbox")[0] == (outbox_before,)


def test_the_applicant_brings_the_bsn_the_known_person_lacked(seeded) -> None:
    keep, bsn, _ = _a_student_person(seeded)
    seeded.sql("UPDATE person SET bsn = NULL, onderwijsnummer = NULL WHERE person_number = ?", (keep,))
    _applicant(seeded, bsn=bsn, phone=None)  # the unique BSN moves from DROP to KEEP
    result = merge(seeded.url, keep, APPLICANT)
    assert result.filled == ["bsn"] and result.moved == {"application": 2, "document": 1}
    assert seeded.sql("SELECT bsn FROM person WHERE person_number = ?", (keep,)) == [(bsn,)]


def test_two_students_are_refused_naming_the_table_and_a_wrong_number_is_clear(seeded, monkeypatch) -> None:
    first, second = (row[0] for row in seeded.sql(
        "SELECT p.person_number FROM person p JOIN student s ON s.person_number = p.person_number "
        "WHERE p.bsn IS NULL OR p.onderwijsnummer IS NULL ORDER BY p.person_number LIMIT 2"))
    seeded.sql("UPDATE person SET bsn = NULL, onderwijsnummer = NULL WHERE person_number IN (?, ?)", (first, second))
    result = _koppel(seeded, monkeypatch, "merge-person", first, second)
    assert result.exit_code != 0
    assert (f"both {first} and {second} have a row in student (a person has one); merge or end the student rows "
            "first (nothing was changed)") in result.output
    assert seeded.sql("SELECT count(*) FROM person WHERE person_number IN (?, ?)", (first, second)) == [(2,)]
    missing = _koppel(seeded, monkeypatch, "merge-person", first, "P-NOPE")
    assert missing.exit_code != 0 and "no person 'P-NOPE' in the SIS store" in missing.output
    same = _koppel(seeded, monkeypatch, "merge-person", first, first)
    assert same.exit_code != 0 and "KEEP and DROP are the same person" in same.output


GROUPS = 6
ROLES = ("student", "mentor")


def test_any_memberships_and_roles_end_as_their_union_on_keep(store) -> None:
    """Whatever memberships and role assignments KEEP and DROP hold, KEEP ends with their union
    (KEEP's own row where both have one), DROP with nothing, in one transaction each."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    for g in range(GROUPS):
        store.sql("INSERT INTO \"group\" (group_code, name, kind) VALUES (?, ?, 'lesgroep')", (f"G{g}", f"Groep {g}"))
    sides = st.dictionaries(st.integers(0, GROUPS - 1), st.sampled_from(ROLES), max_size=GROUPS)
    roles = st.sets(st.sampled_from(["docent", "mentor", "examinator", "bpv-coordinator"]), max_size=4)
    counter = iter(range(10_000))

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(keep_groups=sides, drop_groups=sides, keep_roles=roles, drop_roles=roles)
    def check(keep_groups, drop_groups, keep_roles, drop_roles) -> None:
        n = next(counter)
        keep, drop = f"K-{n}", f"D-{n}"
        for person, groups, granted in ((keep, keep_groups, keep_roles), (drop, drop_groups, drop_roles)):
            store.sql("INSERT INTO person (person_number, last_name) VALUES (?, 'Test')", (person,))
            for g, role in groups.items():
                store.sql("INSERT INTO membership (group_code, person_number, role) VALUES (?, ?, ?)",
                          (f"G{g}", person, role))
            for role in granted:
                store.sql("INSERT INTO role_assignment (person_number, role, scope) VALUES (?, ?, '')", (person, role))
        result = merge(store.url, keep, drop)
        expected = {f"G{g}": role for g, role in {**drop_groups, **keep_groups}.items()}  # KEEP's role wins
        assert dict(store.sql("SELECT group_code, role FROM membership WHERE person_number = ?", (keep,))) == expected
        assert {r for (r,) in store.sql("SELECT role FROM role_assignment WHERE person_number = ?", (keep,))} == (
            keep_roles | drop_roles)
        assert store.sql("SELECT count(*) FROM membership WHERE person_number = ?", (drop,)) == [(0,)]
        assert store.sql("SELECT count(*) FROM person WHERE person_number = ?", (drop,)) == [(0,)]
        twins = len(set(keep_groups) & set(drop_groups))
        assert result.dropped_twins.get("membership", 0) == twins
        assert result.moved.get("membership", 0) == len(drop_groups) - twins

    check()
