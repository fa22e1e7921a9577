"""A burst of realtime changes from every side, for ``koppel demo``.

Changes in the SIS store are written with plain SQL, as any other client of the database would
(the outbox triggers pick them up, not Koppel's own code). The other systems' events come from
their stand-ins: the IAM provisions users and roles over SCIM, the aanmeldmodule posts signed
applications, B3Net posts BPV matches. New applications in Centraal Aanmelden, dossiers in
Intergrip, invoice lines in Exact and results in the DLO appear by themselves over time.
"""

from __future__ import annotations

from pathlib import Path

import httpx


def _truancy(day: str) -> str:
    """An attendance officer records four unauthorised hours on ``day`` for three minors without a
    startkwalificatie (enrolled, so DUO can be told where); a week of it crosses the 16-hours rule
    and the SIS store itself makes the verzuimmelding that interface 16 sends."""
    return (
        "INSERT INTO absence (absence_id, student_number, date, hours, authorised, reason) "
        f"SELECT 'BURST-' || s.student_number || '-{day}', s.student_number, '{day}', 4, false, 'spijbelen' "
        "FROM student s JOIN person p ON p.person_number = s.person_number "
        "WHERE NOT s.has_startkwalificatie AND p.birth_date > '2008-11-13' "
        "AND s.student_number IN (SELECT student_number FROM enrollment) ORDER BY s.student_number LIMIT 3"
    )


#: SQL a counsellor's, an administrator's and an attendance officer's clicks come down to
SIS_CHANGES: dict[str, str | tuple[str, ...]] = {
    "application status changes": (
        "UPDATE application SET status = 'onderwijsovereenkomst_aangeboden' WHERE aanmeld_id IN "
        "(SELECT aanmeld_id FROM application WHERE status = 'aangemeld' AND person_number IN "
        "(SELECT person_number FROM person WHERE bsn IS NOT NULL) ORDER BY aanmeld_id LIMIT 12)"
    ),
    "enrollment changes": (
        "UPDATE enrollment SET planned_end_date = '2029-07-31' WHERE enrollment_id IN "
        "(SELECT enrollment_id FROM enrollment ORDER BY enrollment_id LIMIT 8)"
    ),
    "documents made final": (
        "UPDATE document SET status = 'definitief' WHERE document_id IN (SELECT document_id FROM document "
        "WHERE status = 'concept' AND student_number IS NOT NULL AND kind IN "
        "('onderwijsovereenkomst', 'verblijfsdocument', 'opleidingsblad', 'bpvo') ORDER BY document_id LIMIT 5)"
    ),
    "absence recorded for minors": tuple(
        _truancy(day) for day in ("2026-11-09", "2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13")
    ),
}


def make_burst(root: Path, sis_url: str, sandbox) -> dict[str, int]:
    """Make the changes; return what was made, for the demo's log line."""
    made: dict[str, int] = {}
    for what, statements in SIS_CHANGES.items():
        statements = (statements,) if isinstance(statements, str) else statements
        made[what] = sum(_execute(sis_url, statement) for statement in statements)

    iam = _control(sandbox.url("iam"))
    response = httpx.post(f"{iam}/_sandbox/push", json={"users": 8, "groups": True}, timeout=60)
    response.raise_for_status()
    made["SCIM users and groups"] = 8

    from sandbox.rest.aanmeldmodule import push_applications

    sent = push_applications(root, count=4)
    made["applications from the aanmeldmodule"] = sum(1 for s in sent if not s.get("error"))

    b3net = _control(sandbox.url("b3net"))
    httpx.post(f"{b3net}/_sandbox/push", json={"count": 3}, timeout=60).raise_for_status()
    made["BPV matches from B3Net"] = 3
    return made


def _control(url: str) -> str:
    """The stand-in's own root, where its /_sandbox endpoints are (its URL may have a base path)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _execute(url: str, statement: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(sa.text(statement)).rowcount
    finally:
        engine.dispose()
