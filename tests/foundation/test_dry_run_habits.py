"""Dry-run as a specialist trying a new interface uses it (issue 14): `--limit` stops reading at
the limit (a paged source fetches no page more than it needs), and a realtime interface with
nothing new says so and points to `--from-start` instead of a bare "would send 0"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES, SIZE = 10, 100


class _Applications(BaseHTTPRequestHandler):
    pages_served: list[int] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        page = int(query.get("page", ["1"])[0])
        self.pages_served.append(page)
        items = [] if page > PAGES else [
            {"aanmeldId": f"CA-{page:02d}-{i:03d}", "gewijzigdOp": f"2026-11-{page:02d}T10:00:00Z",
             "status": "aangemeld", "opleiding": {"crebo": "25604"}}
            for i in range(SIZE)]
        body = json.dumps({"items": items}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def portal():
    _Applications.pages_served = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Applications)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "KOPPEL_SIS_URL": f"sqlite:///{tmp_path / 'sis.db'}",
            "KOPPEL_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}", "KOPPEL_VAR_DIR": str(tmp_path / "var"),
            "KOPPEL_ENV": "sandbox"}


def _koppel(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", "--project", str(project), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_limit_stops_a_paged_source_at_the_limit(project_copy: Path, tmp_path: Path, portal) -> None:
    catalog = project_copy / "catalog.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace(
        "url: http://127.0.0.1:8507/api", f"url: http://127.0.0.1:{portal.server_address[1]}/api"), encoding="utf-8")
    result = _koppel(project_copy, _env(tmp_path), "dry-run", "7", "--limit", "5", "--format", "json")
    assert result.returncode == 0, result.stderr
    keys = {json.loads(line)["source_key"] for line in result.stdout.splitlines()}
    assert keys == {f"CA-01-{i:03d}" for i in range(5)}
    assert _Applications.pages_served == [1]  # not the ten pages the source holds


def test_realtime_dry_run_with_nothing_new_points_to_from_start(project_root: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _koppel(project_root, env, "sis", "init").returncode == 0
    result = _koppel(project_root, env, "dry-run", "24")
    assert result.returncode == 0, result.stderr
    assert "would send 0" in result.stdout
    assert "`koppel dry-run 24 --from-start` shows its mapping at work" in result.stderr
