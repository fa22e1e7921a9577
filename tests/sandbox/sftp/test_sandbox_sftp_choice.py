"""Which SFTP server the sandbox runs: OpenSSH's sshd when this machine can serve the catalog's
login with it, else the paramiko server; KOPPEL_SANDBOX_SFTP forces either."""

from __future__ import annotations

import pytest

from sandbox.sftp import pyserver


def test_without_sshd_the_paramiko_server_is_chosen_and_says_why(monkeypatch):
    monkeypatch.delenv(pyserver.ENV_CHOICE, raising=False)
    monkeypatch.setattr(pyserver.sshd_server, "SSHD", "/nonexistent/sshd")
    assert pyserver.select_server("koppel") == ("paramiko", "no usable sshd: /nonexistent/sshd is missing")


def test_a_login_the_sshd_cannot_serve_means_the_paramiko_server(monkeypatch):
    import getpass
    import os

    monkeypatch.delenv(pyserver.ENV_CHOICE, raising=False)
    monkeypatch.setattr(pyserver.sshd_server, "SSHD", "/bin/sh")  # "installed"
    kind, why = pyserver.select_server("no-such-koppel-account")
    assert kind == "paramiko"
    assert ("no account 'no-such-koppel-account'" if os.geteuid() == 0 else getpass.getuser()) in why


def test_a_usable_sshd_stays_the_default(monkeypatch):
    monkeypatch.delenv(pyserver.ENV_CHOICE, raising=False)
    reason = pyserver.sshd_unusable("koppel")
    if reason:
        pytest.skip(f"OpenSSH sshd is not usable here ({reason}); .ci/install-sshd.sh as root makes it so")
    assert pyserver.select_server("koppel")[0] == "sshd"


def test_the_environment_variable_forces_the_choice(monkeypatch):
    monkeypatch.setenv(pyserver.ENV_CHOICE, "paramiko")
    assert pyserver.select_server("koppel")[0] == "paramiko"
    monkeypatch.setenv(pyserver.ENV_CHOICE, "sshd")
    assert pyserver.select_server("koppel")[0] == "sshd"
    monkeypatch.setenv(pyserver.ENV_CHOICE, "openssh")
    with pytest.raises(ValueError, match="auto, sshd, paramiko"):
        pyserver.select_server("koppel")


def test_the_runner_starts_the_forced_paramiko_server_for_the_catalog_login(project_copy, monkeypatch):
    from plugins.sftp.connection import connect
    from runtime.plugin import PluginContext
    from sandbox.runner import Sandbox

    monkeypatch.setenv(pyserver.ENV_CHOICE, "paramiko")
    monkeypatch.delenv("KOPPEL_VAR_DIR", raising=False)
    with Sandbox(project_copy, names=["toa", "aanmeldmodule"], free_ports=True).start() as box:
        assert {box.running[n].kind for n in ("toa", "aanmeldmodule")} == {"paramiko"}
        assert box.sftp_server == "paramiko (KOPPEL_SANDBOX_SFTP=paramiko)"
        handle = box.running["sshd"].handle
        assert box.url("toa") == f"sftp://koppel@127.0.0.1:{handle.port}/var/sandbox/sftp/toa"
        # the catalog's own sandbox settings (known_hosts, client_key, user koppel), on the port in use
        env = box.catalog.systems["toa"].environments["sandbox"]
        ctx = PluginContext(environment="sandbox", project_root=project_copy, system_name="toa",
                            system=env.model_copy(update={"port": handle.port}), interface_id=25)
        client, sftp = connect(ctx)
        try:
            assert sorted(sftp.listdir("var/sandbox/sftp")) == ["aanmeldmodule", "toa"]
        finally:
            client.close()


def test_sandbox_list_says_which_sftp_server_would_run(project_root, monkeypatch):
    from click.testing import CliRunner

    from runtime.cli import main

    monkeypatch.setenv(pyserver.ENV_CHOICE, "paramiko")
    result = CliRunner().invoke(main, ["--project", str(project_root), "sandbox", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert all("(server: paramiko)" in lines[n] for n in ("aanmeldmodule", "toa"))
    assert "server:" not in lines["exact"]
