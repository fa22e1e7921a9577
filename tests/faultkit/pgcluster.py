"""A throwaway PostgreSQL cluster a test may stop and start: database outages on purpose.

Never the machine's main server (127.0.0.1:5432): ``initdb`` in a temporary directory, started
with ``pg_ctl`` as the ``postgres`` user on a free port, listening on 127.0.0.1 only, fsync off
(a test cluster, not durable storage against a power cut). ``stop(mode="immediate")`` is a crash
as far as clients are concerned: every connection is cut, the port refuses new ones, and
``start`` brings back every acknowledged commit after crash recovery. That last promise needs
``synchronous_commit`` on: with it off, a commit is acknowledged before its WAL is written, an
immediate stop drops the last ~0.6 s of commits, and an outage test then blames the engine for
changes the database itself forgot (it did: 250 of 300 people written just before the outage
were gone from the cluster, in CI).

    with PgCluster() as cluster:
        url = cluster.create_database("koppel")   # postgresql+psycopg://postgres@127.0.0.1:<port>/koppel
        with cluster.outage():                    # stopped -m immediate ... started again
            time.sleep(15)

Skips (``pytest.skip``) when initdb/pg_ctl or the ``postgres`` user are missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Self


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


class PgCluster:
    def __init__(self, port: int | None = None, user: str = "postgres") -> None:
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        try:
            self.account = pwd.getpwnam(user)
        except KeyError:
            self.account = None
        if not (self.initdb and self.pg_ctl and self.account):
            import pytest

            pytest.skip("a throwaway PostgreSQL cluster needs initdb, pg_ctl and the postgres user")
        self.user = user
        self.port = port or _free_port()
        self.base = Path(tempfile.mkdtemp(prefix="koppel-pgcluster-"))
        os.chown(self.base, self.account.pw_uid, self.account.pw_gid)
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.running = False

    # -- running as the postgres user ----------------------------------------------------------

    def _as_owner(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        command = list(args)
        if os.geteuid() == 0 and self.account.pw_uid != 0:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.base, check=False)
        if check and done.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}\n{tail}")
        return done

    def start(self) -> Self:
        if not self.data.exists():
            self._as_owner(self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
                           "-E", "UTF8", "--locale=C")
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c fsync=off "
                   "-c full_page_writes=off -c max_connections=200")
        self._as_owner(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                       "start")
        self.running = True
        return self

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: like a crash (connections cut at once); ``fast``: a clean shutdown."""
        if self.running:
            self._as_owner(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
            self.running = False

    @contextlib.contextmanager
    def outage(self, mode: str = "immediate"):
        """The database is gone for the body of the ``with``, then back with its data."""
        self.stop(mode)
        try:
            yield self
        finally:
            self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.destroy()

    # -- databases -----------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
