"""The daemon: health and readiness endpoints, metrics, and a graceful drain on SIGTERM."""

from __future__ import annotations

import dataclasses

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

WORKER = Path(__file__).with_name("engine_daemon_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_drains_in_flight_run_and_records_it(tmp_path):
    port = _free_port()
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen([sys.executable, str(WORKER), str(tmp_path), state_url, str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        time.sleep(1.0)  # the poll interface is now mid-run (100,000 records, slowly)
        metrics = httpx.get(f"{base}/metrics").text
        assert 'koppel_records_total{interface="22",stage="delivered"}' in metrics
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert '"msg": "drained"' in err
    db = create_engine(state_url)
    with db.connect() as c:
        run = c.execute(text("SELECT outcome, read, delivered FROM koppel_runs")).one()
        cursor = c.execute(text("SELECT cursor FROM koppel_cursors")).scalar()
    db.dispose()
    assert run.outcome == "stopped" and 0 < run.read < 100_000
    assert cursor == str(run.read) and run.delivered == run.read  # recorded up to the last batch


def _serve(project: Path, *args: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "KOPPEL_STATE_URL": f"sqlite:///{project / 'state.db'}",
           "KOPPEL_SIS_URL": f"sqlite:///{project / 'sis.db'}"}
    with open(project / "serve.log", "w") as log:  # a file, not a pipe: a full pipe blocks the daemon's logging
        proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "--project", str(project), "serve", "--port",
                                 str(port), "--no-scheduler", *args], env=env, cwd=Path(__file__).parents[2],
                                stdout=log, stderr=log, text=True)
    proc.log_path = project / "serve.log"
    return proc, f"http://127.0.0.1:{port}"


def _readyz(proc, base: str, until=lambda body: True, timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            body = httpx.get(f"{base}/readyz", timeout=2).json()
            if "interfaces" in body and until(body):
                return body
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"no such /readyz answer: {body}; exit {proc.poll()}")


def _stop(proc) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.log_path.read_text()


def _break(path: Path) -> None:
    path.write_text(path.read_text() + "\nnot_a_field: 1\n")


def test_serve_runs_every_valid_interface_and_reloads_keeping_the_last_good_version(project_copy):
    name = "interfaces/24-sis-b3net-verbintenis.yaml"
    file = project_copy / name
    good = file.read_text()
    _break(file)
    proc, base = _serve(project_copy, "--watch")
    try:
        # 1. started although 24 is broken: every other interface runs, 24 is reported
        body = _readyz(proc, base)
        assert "24" not in body["interfaces"] and {"11", "16"} <= set(body["interfaces"])
        why = body["invalid"][name]
        assert why.startswith(f"{name}:") and "not_a_field" in why and "last good" not in why
        metrics = httpx.get(f"{base}/metrics").text
        assert f'koppel_definition_invalid{{file="{name}"}} 1.0' in metrics
        # 2. fixed: --watch reloads, 24 runs
        file.write_text(good)
        body = _readyz(proc, base, lambda b: "24" in b["interfaces"])
        assert name not in body.get("invalid", {})
        # 3. broken again: its last good version keeps running
        _break(file)
        body = _readyz(proc, base, lambda b: name in b.get("invalid", {}))
        assert "24" in body["interfaces"]
        assert body["invalid"][name].endswith("(serving the last good version of interface 24)")
        # 4. SIGHUP reloads too
        file.write_text(good)
        proc.send_signal(signal.SIGHUP)
        _readyz(proc, base, lambda b: name not in b.get("invalid", {}))
    finally:
        err = _stop(proc)
    assert "definition invalid, not served" in err and proc.returncode == 0
    assert err.count('"msg": "definitions reloaded"') >= 3


def test_serve_strict_refuses_an_invalid_definition(project_copy):
    _break(project_copy / "interfaces" / "24-sis-b3net-verbintenis.yaml")
    strict = subprocess.run([sys.executable, "-m", "runtime.cli", "--project", str(project_copy), "serve", "--strict"],
                            cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=60, check=False)
    assert strict.returncode != 0
    assert "interfaces/24-sis-b3net-verbintenis.yaml:" in strict.stderr + strict.stdout


def test_serve_only_runs_the_named_interfaces(project_copy, monkeypatch):
    import types

    from runtime.engine.cli import _serve_engine
    from runtime.engine.daemon import Daemon

    monkeypatch.setenv("KOPPEL_STATE_URL", f"sqlite:///{project_copy / 'state.db'}")
    ctx = types.SimpleNamespace(obj={"project": project_copy, "environment": "sandbox", "debug": False})
    engine, invalid = _serve_engine(ctx, ["24", "16-duo-verzuim"], strict=False)
    try:
        assert sorted(engine.project.interfaces) == [16, 24] and invalid == {}
        daemon = Daemon(engine, port=_free_port(), only={16, 24})
        assert daemon.scheduler.add_interfaces() == [] and sorted(daemon.realtime.start()) == [16, 24]
        daemon.drain()
    finally:
        engine.close()

def test_a_broken_catalog_serves_nothing_and_a_reload_keeps_everything(project_copy):
    from runtime.project import load_project
    from runtime.servable import merge_last_good, servable

    before = load_project(project_copy)
    good, _ = servable(before)
    assert 24 in good and 16 in good
    catalog = project_copy / "catalog.yaml"
    catalog.write_text(catalog.read_text() + "\nnot_a_field: 1\n")
    broken = load_project(project_copy)
    assert servable(broken)[0] == {}
    previous = dataclasses.replace(before, interfaces=good)  # as the daemon keeps a last good project
    project, notes = merge_last_good(previous, broken)
    assert project is previous  # every interface keeps its last good version
    assert notes["catalog.yaml"].endswith("(serving the last good version of every interface)")
