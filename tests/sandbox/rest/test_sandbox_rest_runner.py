"""The runner and ``koppel sandbox``: ports from the catalog, free ports for tests, Exact's
refresh-token file, and ``up`` running in the foreground until SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from standin_helpers import PROJECT, client

from runtime.errors import ConfigError
from sandbox.runner import Sandbox, ensure_exact_refresh_token
from sandbox.sftp.server import free_port


def test_list_shows_every_system_with_its_port_and_protocol():
    from runtime.cli import main

    result = CliRunner().invoke(main, ["--project", str(PROJECT), "sandbox", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "http://127.0.0.1:8521/api/v1/123456" in lines["exact"] and "OData" in lines["exact"]
    assert lines["signhost"].split()[1] == "http" and "8514" in lines["signhost"]
    assert "sftp://127.0.0.1:2222" in lines["toa"] and lines["aanmeldmodule"].split()[1] == "sftp+push"
    assert "facet" not in lines  # DUO's web application: files moved by the exam office, no stand-in
    assert "sis" not in lines  # Koppel's own store is no stand-in


def test_free_ports_rewrite_the_url_and_a_token_url_on_the_same_host():
    with Sandbox(PROJECT, names=["xedule"], free_ports=True, include_services=False,
                 options={"xedule": {"seed": 99}}) as box:
        settings = box.context("xedule").settings
        port = int(re.search(r":(\d+)/", box.url("xedule")).group(1))
        assert port != 8522 and settings.auth.token_url == f"http://127.0.0.1:{port}/kw1c-sandbox/oauth2/v2.0/token"
        assert settings.options["seed"] == 99
    assert not box.running


def test_unknown_names_are_a_config_error():
    with pytest.raises(ConfigError, match="no-such-system"):
        Sandbox(PROJECT, names=["no-such-system"], include_services=False).start()


def test_exact_refresh_token_file_is_written_when_missing(project_copy):
    path = ensure_exact_refresh_token(project_copy)
    assert path == project_copy / "var" / "sandbox" / "exact-refresh-token"
    token = path.read_text().strip()
    assert len(token) >= 32 and oct(path.stat().st_mode)[-3:] == "600"
    assert ensure_exact_refresh_token(project_copy).read_text().strip() == token  # kept when present


def test_up_runs_until_sigterm(project_copy):
    catalog = yaml.safe_load((project_copy / "catalog.yaml").read_text())
    port = free_port()
    catalog["systems"]["crm"]["environments"]["sandbox"]["url"] = f"http://127.0.0.1:{port}/api"
    (project_copy / "catalog.yaml").write_text(yaml.safe_dump(catalog, allow_unicode=True, sort_keys=False))
    koppel = Path(sys.executable).with_name("koppel")
    process = subprocess.Popen([str(koppel), "--project", str(project_copy), "sandbox", "up", "crm"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        output = []
        for line in process.stdout:
            output.append(line)
            if "sandbox up" in line:
                break
        assert any(f"127.0.0.1:{port}/api" in line for line in output), output
        token = (PROJECT / "sandbox" / "secrets" / "crm-token").read_text().strip()
        r = client.put(f"http://127.0.0.1:{port}/api/applications/AM-1", json={"aanmeldId": "AM-1", "status": "x"},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=10)
        assert process.returncode == 0 and "sandbox stopped" in rest
    finally:
        if process.poll() is None:
            process.kill()


def broken_app(ctx):
    raise RuntimeError("cannot read its contract")


def test_a_missing_or_broken_stand_in_is_skipped_and_the_rest_runs(monkeypatch):
    import sandbox.runner as runner

    monkeypatch.setitem(runner.HTTP_STANDINS, "crm", "sandbox.rest.not_written_yet:create_app")
    monkeypatch.setitem(runner.HTTP_STANDINS, "vva", f"{__name__}:broken_app")
    with Sandbox(PROJECT, names=["crm", "vva", "dlo"], free_ports=True, include_services=False) as box:
        assert set(box.running) == {"dlo"}
        assert "not in this tree" in box.skipped["crm"]
        assert "cannot read its contract" in box.skipped["vva"]


def test_a_sandbox_of_a_small_college_hands_back_the_students_the_next_one_refers_to(monkeypatch):
    """The students the stand-ins refer to are one setting per process. A test session starts
    many sandboxes: one seeded with 5 students must not leave the next one referring to those 5
    (the IAM stand-in's 21st person became P100001 and overwrote the first)."""
    from sandbox.rest import synthetic

    monkeypatch.setattr(synthetic, "STUDENT_COUNT", 100)
    small = Sandbox(PROJECT, names=["iam"], include_services=False, students=5)
    assert synthetic.person_number(20) == "P100001"  # 20 % 5: what the small college has
    small.stop()
    assert synthetic.STUDENT_COUNT == 100
    assert synthetic.person_number(20) == "P100021"
    small.stop()  # a second stop changes nothing
    assert synthetic.STUDENT_COUNT == 100
