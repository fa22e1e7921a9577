"""Helpers of the paramiko SFTP stand-in tests: plugin contexts and a raw SFTP client."""

from __future__ import annotations

from pathlib import Path

from runtime.models.catalog import SystemEnvironment
from runtime.plugin import PluginContext


def system(server, **overrides) -> SystemEnvironment:
    settings = {
        "host": "127.0.0.1", "port": server.port, "known_hosts": str(server.known_hosts), "timeout": 5,
        "auth": {"type": "ssh_key", "username": "koppel", "private_key": f"${{file:{server.client_key}}}"},
        "options": {"base_dir": "var/sandbox/sftp/facet"},
    }
    settings.update(overrides)
    return SystemEnvironment.model_validate(settings)


def context(root: Path, server, *, system_name: str = "facet", interface_id: int = 25, **overrides) -> PluginContext:
    return PluginContext(environment="sandbox", project_root=root, system_name=system_name,
                         system=system(server, **overrides), interface_id=interface_id,
                         options={"batch_size": 2})


def sftp_client(server, username: str = "koppel", key_file: Path | None = None):
    """A raw paramiko SFTP client (host key checked), for what the plugin never tries."""
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(str(server.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", port=server.port, username=username, timeout=5, allow_agent=False,
                   look_for_keys=False, pkey=paramiko.Ed25519Key.from_private_key_file(str(key_file or server.client_key)))
    return client
