"""Opening an SFTP session with paramiko: key login, host key checked against known_hosts.

Host-key checking is always on: the system's ``known_hosts`` file is loaded and paramiko's
RejectPolicy refuses any host whose key is not in it. A missing known_hosts file, a wrong key
and a refused login are ConfigErrors (retrying cannot fix them); a refused connection, a timeout
or a dropped session are TransientErrors.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from runtime import secrets
from runtime.errors import ConfigError, TransientError
from runtime.paths import expand


def connect(ctx: Any):
    """An (SSHClient, SFTPClient) pair for ``ctx.system``."""
    import paramiko

    system = ctx.system
    where = f"system {ctx.system_name or '?'} ({ctx.environment})"
    if system is None or not system.host:
        raise ConfigError(f"{where}: no host configured for SFTP")
    auth = system.auth
    if auth is None or getattr(auth, "type", None) != "ssh_key":
        raise ConfigError(f"{where}: SFTP needs auth of type ssh_key")
    if not system.known_hosts:
        raise ConfigError(f"{where}: SFTP needs a known_hosts file (host keys are always checked)")
    known_hosts = expand(system.known_hosts, Path(ctx.project_root))
    if not known_hosts.is_file():
        raise ConfigError(f"{where}: known_hosts file {known_hosts} does not exist")
    key = load_private_key(auth, ctx.project_root)

    client = paramiko.SSHClient()
    try:
        client.load_host_keys(str(known_hosts))
    except (OSError, paramiko.SSHException) as exc:
        raise ConfigError(f"{where}: known_hosts file {known_hosts} cannot be read ({exc})") from None
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    port = system.port or 22
    try:
        client.connect(system.host, port=port, username=auth.username, pkey=key, timeout=system.timeout,
                       banner_timeout=system.timeout, auth_timeout=system.timeout, allow_agent=False,
                       look_for_keys=False)
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(system.timeout)
    except paramiko.BadHostKeyException:
        client.close()
        raise ConfigError(f"{where}: the host key of {system.host}:{port} does not match {known_hosts}") from None
    except paramiko.AuthenticationException:
        client.close()
        raise ConfigError(f"{where}: login as {auth.username} refused by {system.host}:{port}") from None
    except paramiko.SSHException as exc:
        client.close()
        if "known_hosts" in str(exc):
            raise ConfigError(f"{where}: {system.host}:{port} is not in {known_hosts}; unknown host keys are "
                              f"never accepted") from None
        raise TransientError(f"{where}: SSH session failed ({exc})") from None
    except TimeoutError:
        client.close()
        raise TransientError(f"{where}: {system.host}:{port} timed out", code="timeout") from None
    except OSError as exc:
        client.close()
        raise TransientError(f"{where}: cannot connect to {system.host}:{port} ({exc.strerror or exc})",
                             code="connect") from None
    return client, sftp


def load_private_key(auth: Any, project_root: Path):
    """The client key from its secret reference; the key text never appears in a message."""
    import paramiko

    text = secrets.resolve(auth.private_key, base=Path(project_root))
    passphrase = secrets.resolve(auth.passphrase, base=Path(project_root)) if auth.passphrase else None
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(text + "\n"), password=passphrase)
        except paramiko.PasswordRequiredException:
            raise ConfigError(f"private key {auth.private_key} needs a passphrase") from None
        except (paramiko.SSHException, ValueError):
            continue
    raise ConfigError(f"private key {auth.private_key} is not an Ed25519, ECDSA or RSA key (or the "
                      f"passphrase is wrong)")
