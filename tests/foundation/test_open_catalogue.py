"""A new interface past the overview's 27, written in YAML alone (issue 14).

A specialist adds row 28, SIS → the library system (realtime over REST): a catalog row and a
system, the interface file, a mapping with a value map and its test cases. Nothing in Python.
`koppel validate` and `koppel test` must pass, and a plain-SQL change of a student must reach a
real HTTP server on 127.0.0.1 through `koppel run 28`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

KOPPEL = [sys.executable, "-m", "runtime.cli"]

ROW = """
  - id: 28
    from: "SIS"
    to: "Bibliotheek"
    objects: ["Leners"]
    type: "(near) realtime"
    remark: "Nieuw: studenten als lener in het bibliotheeksysteem"
    source_systems: [sis]
    target_systems: [bibliotheek]
    file: interfaces/28-sis-bibliotheek.yaml
"""

SYSTEM = """
  bibliotheek:
    name: Bibliotheeksysteem
    description: The library's lending system; takes its borrowers over REST.
    vendor: Bibliotheek
    protocol: rest
    environments:
      sandbox:
        url: http://127.0.0.1:{port}/api
        auth: {{type: bearer, token: "${{env:KOPPEL_TEST_LIBRARY_TOKEN}}"}}
      acceptatie:
        url: https://bibliotheek-acc.example.org/api
        auth: {{type: bearer, token: "${{env:KOPPEL_TEST_LIBRARY_TOKEN}}"}}
      productie:
        url: https://bibliotheek.example.org/api
        auth: {{type: bearer, token: "${{env:KOPPEL_TEST_LIBRARY_TOKEN}}"}}
"""

INTERFACE = """# yaml-language-server: $schema=../schemas/interface.schema.json
id: 28
name: Leners naar de bibliotheek
description: Every change of a student or of the person behind it goes to the library at once.
type: realtime
objects: [leners]
trigger: {type: outbox, objects: [student, person]}
source: {type: sis, object: student, mode: outbox, include: [person]}
mapping: bibliotheek-lener
targets:
  - {type: rest, system: bibliotheek, method: PUT, path: "/leners/{lenerId}"}
"""

MAPPING = """name: bibliotheek-lener
description: Een student als lener van de bibliotheek.
output:
  lenerId: {expr: "student_number", required: true}
  naam: "full_name(person.given_name, person.tussenvoegsel, person.last_name)"
  categorie: {expr: "status", valuemap: lenercategorie, fallback: default, default: overig}
contract:
  json_schema:
    type: object
    required: [lenerId, categorie]
    properties:
      lenerId: {type: string, minLength: 1}
      naam: {type: [string, "null"]}
      categorie: {enum: [student, oud-student, overig]}
"""

VALUEMAP = """name: lenercategorie
description: SIS-studentstatus → lenerscategorie van de bibliotheek.
codes:
  actief: student
  uitgeschreven: oud-student
"""

CASES = """- name: een actieve student is een lener van categorie student
  input: {student_number: S1, status: actief, person: {given_name: Eva, tussenvoegsel: de, last_name: Vries}}
  expect: {lenerId: S1, naam: Eva de Vries, categorie: student}
- name: een onbekende status valt terug op overig
  input: {student_number: S2, status: geschorst, person: {given_name: Ali, last_name: Kaya}}
  expect: {lenerId: S2, naam: Ali Kaya, categorie: overig}
- name: zonder studentnummer geen lener
  input: {status: actief, person: {given_name: Eva, last_name: Vries}}
  expect_error: {kind: mapping, path: lenerId}
"""


class _Library(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []

    def log_message(self, *args) -> None:
        pass

    def do_PUT(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        assert self.headers.get("Authorization") == "Bearer library-token"
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture()
def library():
    _Library.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Library)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _add_interface_28(project: Path, port: int) -> None:
    catalog = project / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    head, systems = text.split("\nsystems:\n", 1)
    catalog.write_text(head.rstrip("\n") + "\n" + ROW + "\nsystems:\n" + SYSTEM.format(port=port).lstrip("\n")
                       + systems, encoding="utf-8")
    (project / "interfaces/28-sis-bibliotheek.yaml").write_text(INTERFACE, encoding="utf-8")
    (project / "mappings/bibliotheek-lener.yaml").write_text(MAPPING, encoding="utf-8")
    (project / "mappings/valuemaps/lenercategorie.yaml").write_text(VALUEMAP, encoding="utf-8")
    (project / "mappings/tests/bibliotheek-lener.yaml").write_text(CASES, encoding="utf-8")


def _koppel(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*KOPPEL, "--project", str(project), *args], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[2], timeout=300)


def test_interface_past_27_in_yaml_alone_validates_tests_and_delivers(project_copy: Path, tmp_path: Path,
                                                                       library) -> None:
    _add_interface_28(project_copy, library.server_address[1])
    db = tmp_path / "sis.db"
    env = {**os.environ, "KOPPEL_SIS_URL": f"sqlite:///{db}", "KOPPEL_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
           "KOPPEL_VAR_DIR": str(tmp_path / "var"), "KOPPEL_DOCUMENTS_DIR": str(tmp_path / "docs"),
           "KOPPEL_TEST_LIBRARY_TOKEN": "library-token", "KOPPEL_ENV": "sandbox"}

    validated = _koppel(project_copy, env, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "29 interfaces" in validated.stdout

    tested = _koppel(project_copy, env, "test", "bibliotheek-lener")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed, 0 failed" in tested.stdout

    for step in (("sis", "init"), ("sis", "seed", "--students", "5", "--seed", "3")):
        done = _koppel(project_copy, env, *step)
        assert done.returncode == 0, done.stderr
    first = _koppel(project_copy, env, "run", "28")  # a new realtime interface starts at the outbox's end
    assert first.returncode == 0, first.stderr
    assert library.RequestHandlerClass.received == []

    with sqlite3.connect(db) as c:  # a change by any SQL client, not through Koppel
        number, person = c.execute("SELECT student_number, person_number FROM student ORDER BY student_number"
                                   " LIMIT 1").fetchone()
        c.execute("UPDATE person SET given_name = 'Ilse', tussenvoegsel = 'van', last_name = 'Dam'"
                  " WHERE person_number = ?", (person,))
    ran = _koppel(project_copy, env, "run", "28")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    received = library.RequestHandlerClass.received
    assert [path for path, _ in received] == [f"/api/leners/{number}"]
    assert received[0][1]["naam"] == "Ilse van Dam"
    assert received[0][1]["lenerId"] == number

    # the daemon, trying only the new interface: the next change arrives without a koppel run
    port = _free_port()
    daemon = subprocess.Popen([*KOPPEL, "--project", str(project_copy), "serve", "--only", "28", "--no-scheduler",
                               "--port", str(port)], env=env, cwd=Path(__file__).resolve().parents[2],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: _ready(port), 60, "koppel serve --only 28 did not become ready")
        with sqlite3.connect(db) as c:
            c.execute("UPDATE person SET last_name = 'Dijk' WHERE person_number = ?", (person,))
        _wait(lambda: len(received) == 2, 30, "the change did not reach the library through koppel serve --only")
        assert received[1][1]["naam"] == "Ilse van Dijk"
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _wait(condition, seconds: float, why: str) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(why)


def test_interface_file_numbered_past_27_is_not_refused_for_its_number(project_copy: Path) -> None:
    """Without a catalog row the file is refused for that, not for its number."""
    (project_copy / "interfaces/123-iets.yaml").write_text(INTERFACE.replace("id: 28", "id: 123"), encoding="utf-8")
    result = _koppel(project_copy, dict(os.environ), "validate")
    assert result.returncode == 1
    assert "interfaces/123-iets.yaml:1:1: id: interface 123 has no row in catalog.yaml" in result.stdout
    assert "less than or equal" not in result.stdout
