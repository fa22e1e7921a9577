"""What TOA does with the files Koppel drops on its SFTP server (the stand-in's behaviour).

TOA reads ``toa/import/*.csv`` (its CSV user import: semicolon, UTF-8, a header, one row per user
with an ``importlabel``; Koppel's layout in ``mappings/contracts/toa-kandidaat.schema.json``:
studentnummer, toetscode, toetsdatum, ...). Some time later it drops one QTI 2.2
``assessmentResult`` per candidate in ``toa/export/``: ``context/@sourcedId`` is the student
number, ``sessionIdentifier/@sourceID`` the system, ``testResult/@identifier`` the exam code and
``@datestamp`` the exam date, with the outcome variables SCORE (1.0 to 10.0, derived from student
and exam so that a rerun gives the same result) and PASSED (SCORE ≥ 5.5). TOA skips users whose
importlabel is ``deactiveren`` or ``archiveren``; an unknown label rejects the file.

Facet has no SFTP drop (DUO's web application: the exam office uploads the candidate file and
downloads the results by hand), so it is no partner here; ``qti_result`` writes the result file
such an export would be, for tests and the demo.

A candidate file that was read moves to ``verwerkt/`` beside it; one that cannot be read (not
cp1252, a missing column, not JSON) moves to ``afgekeurd/`` with ``<name>.reden.txt``, which is
how these systems report a rejected import. Files starting with ``.`` (Koppel's uploads in
progress) are never touched; results are written under a hidden name and renamed, as a real
partner should.

``ResultProducer`` polls the folders in a thread; ``process_once()`` does one pass (tests).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import pwd
import threading
from pathlib import Path
from xml.sax.saxutils import quoteattr

log = logging.getLogger("koppel.sandbox.sftp")

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_result_v2p2"
#: system → (folder with candidate files, pattern, folder for results)
FOLDERS = {"toa": ("import", "*.csv", "export")}
IMPORT_LABELS = ("toevoegen", "wijzigen", "deactiveren", "archiveren")


class ResultProducer:
    def __init__(self, base_dirs: dict[str, Path], username: str | None = None, interval: float = 0.3) -> None:
        self.base_dirs = {k: Path(v) for k, v in base_dirs.items() if k in FOLDERS}
        self.interval = interval
        self.owner = None
        if username and os.geteuid() == 0:
            account = pwd.getpwnam(username)
            self.owner = (account.pw_uid, account.pw_gid)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ResultProducer:
        self._thread = threading.Thread(target=self._loop, name="sftp-partners", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.process_once()
            except Exception:  # a stand-in keeps running; the log says what went wrong
                log.exception("sftp stand-in: processing candidate files failed")

    # -- one pass ------------------------------------------------------------------------------

    def process_once(self) -> int:
        """Read every waiting candidate file; returns the number of results written."""
        written = 0
        for system, base in self.base_dirs.items():
            inbox, pattern, outbox = FOLDERS[system]
            folder = base / inbox
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob(pattern)):
                if path.name.startswith(".") or not path.is_file():
                    continue
                try:
                    candidates = self._read(system, path.read_bytes())
                except (ValueError, KeyError, UnicodeDecodeError, csv.Error) as exc:
                    self._move(path, folder / "afgekeurd", reason=f"{type(exc).__name__}: {exc}")
                    continue
                for student, exam, day in candidates:
                    self._write_result(base / outbox, system, student, exam, day)
                    written += 1
                self._move(path, folder / "verwerkt")
        return written

    def _read(self, system: str, data: bytes) -> list[tuple[str, str, dt.date]]:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8")), delimiter=";"))
        for row in rows:
            if row["importlabel"] not in IMPORT_LABELS:
                raise ValueError(f"unknown importlabel {row['importlabel']!r}")
        return [(row["studentnummer"], row["toetscode"], dt.date.fromisoformat(row["toetsdatum"][:10]))
                for row in rows if row["importlabel"] not in ("deactiveren", "archiveren")]

    def _write_result(self, folder: Path, system: str, student: str, exam: str, day: dt.date) -> None:
        self._mkdir(folder)
        name, body = qti_result(system, student, exam, day)
        hidden = folder / f".{name}.tmp"
        hidden.write_text(body, encoding="utf-8")
        self._own(hidden)
        hidden.replace(folder / name)

    # -- files ---------------------------------------------------------------------------------

    def _move(self, path: Path, folder: Path, reason: str | None = None) -> None:
        self._mkdir(folder)
        if reason is not None:
            note = folder / f"{path.name}.reden.txt"
            note.write_text(reason + "\n", encoding="utf-8")
            self._own(note)
        path.replace(folder / path.name)

    def _mkdir(self, folder: Path) -> None:
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            self._own(folder)

    def _own(self, path: Path) -> None:
        """Files and folders the stand-in makes belong to the SFTP login, as on the partner's server."""
        if self.owner is not None:
            os.chown(path, *self.owner)


def qti_result(system: str, student: str, exam: str, day: dt.date) -> tuple[str, str]:
    """(file name, QTI 2.2 assessmentResult) of one candidate's result, the same for a rerun."""
    digest = int(hashlib.sha256(f"{student}|{exam}".encode()).hexdigest()[:8], 16)
    score = round(1.0 + (digest % 91) / 10, 1)  # 1.0 .. 10.0
    stamp = f"{day.isoformat()}T10:00:00"
    name = f"{system}-{student}-{exam}-{day:%Y%m%d}.xml".replace("/", "_")
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentResult xmlns="{QTI_NS}">
  <context sourcedId={quoteattr(student)}>
    <sessionIdentifier sourceID="{system}" identifier={quoteattr(f"{exam}-{day:%Y%m%d}")}/>
  </context>
  <testResult identifier={quoteattr(exam)} datestamp="{stamp}">
    <outcomeVariable identifier="SCORE" cardinality="single" baseType="float"><value>{score}</value></outcomeVariable>
    <outcomeVariable identifier="PASSED" cardinality="single" baseType="boolean"><value>{str(score >= 5.5).lower()}</value></outcomeVariable>
  </testResult>
</assessmentResult>
"""
    return name, body
