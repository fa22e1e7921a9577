"""Start and stop the sandbox in one process: every HTTP stand-in as a uvicorn server in a
thread, the sshd of the SFTP systems, the data-layer databases and the sandbox PKI.

    from sandbox.runner import Sandbox
    with Sandbox(project_root, names=["exact"]).start() as sb:
        sb.url("exact")            # http://127.0.0.1:8521/api/v1/123456
        sb.context("exact")        # the StandinContext: .received, .faults

Ports come from each system's sandbox ``url`` in catalog.yaml. ``free_ports=True`` (tests)
binds every HTTP stand-in to a free port instead; ``url()`` and the stand-in's own settings
(including a ``token_url`` on the same host) then carry the real port. ``options`` overrides
a system's ``options`` (e.g. ``{"exact": {"minutely_limit": 3}}``, or ``koppel_url`` for a
test receiver).

Parts written by other developers (``sandbox.soap.*``, ``sandbox.sftp.server``,
``sandbox.databases``, ``sandbox.soap.pki``) are imported lazily: when one is missing the
runner says so in ``skipped`` and starts the rest.
"""

from __future__ import annotations

import importlib
import logging
import secrets as token_generator
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sandbox.registry import DATABASE_SYSTEMS, HTTP_STANDINS, SFTP_SYSTEMS
from sandbox.standin import StandinContext

log = logging.getLogger("koppel.sandbox")

def load_catalog(project_root: Path):
    import yaml

    from runtime.models.catalog import Catalog

    with open(project_root / "catalog.yaml", encoding="utf-8") as f:
        return Catalog.model_validate(yaml.safe_load(f))


def ensure_exact_refresh_token(project_root: Path, catalog: Any = None) -> Path | None:
    """catalog.yaml reads Exact's refresh token from a file (var/sandbox/exact-refresh-token):
    write one when it is missing. The stand-in trusts whatever that file holds when it starts
    (a fresh 'consent'); from then on each refresh rotates it."""
    from runtime.secrets import REFERENCE

    catalog = catalog or load_catalog(project_root)
    auth = catalog.systems["exact"].environments["sandbox"].auth
    match = REFERENCE.match(getattr(auth, "refresh_token", "") or "")
    if not match or match.group(1) != "file":
        return None  # an ${env:...} token is the operator's to provide
    path = Path(match.group(2))
    path = path if path.is_absolute() else project_root / path
    if not path.exists() or not path.read_text().strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token_generator.token_urlsafe(32) + "\n")
        path.chmod(0o600)
    return path


@dataclass
class Running:
    name: str
    kind: str  # http | sshd | paramiko (the SFTP server in use) | database | pki
    url: str | None = None
    context: StandinContext | None = None
    server: Any = None
    thread: threading.Thread | None = None
    handle: Any = None


@dataclass
class Sandbox:
    project_root: Path
    names: list[str] | None = None
    free_ports: bool = False
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    include_services: bool = True  # sshd, databases, PKI (off in tests of the HTTP stand-ins)
    students: int | None = None  # size of the seeded college: stand-ins refer to S100001..
    running: dict[str, Running] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: which SFTP server runs and why, e.g. "paramiko (no usable sshd: /usr/sbin/sshd is missing)"
    sftp_server: str | None = None

    def __post_init__(self) -> None:
        self.project_root = Path(self.project_root).resolve()
        self.catalog = load_catalog(self.project_root)
        self._students_before: int | None = None
        if self.students:
            from sandbox.rest import synthetic

            # process-wide (every stand-in of this process refers to the same students): the
            # value before is put back by stop(), so a later sandbox of the same process (a test
            # session runs many) does not refer to this college's students
            self._students_before = synthetic.STUDENT_COUNT
            synthetic.configure(students=self.students)

    # -- what there is --------------------------------------------------------------------

    def selected(self) -> list[str]:
        known = sorted(self.catalog.systems)
        if not self.names:
            return [n for n in known if n in HTTP_STANDINS or n in SFTP_SYSTEMS or n in DATABASE_SYSTEMS]
        unknown = [n for n in self.names if n not in self.catalog.systems]
        if unknown:
            from runtime.errors import ConfigError

            raise ConfigError(f"unknown system(s): {', '.join(unknown)}; known: {', '.join(known)}")
        return list(self.names)

    def url(self, name: str) -> str:
        return self.running[name].url  # type: ignore[return-value]

    def context(self, name: str) -> StandinContext:
        return self.running[name].context  # type: ignore[return-value]

    # -- start and stop -------------------------------------------------------------------

    def start(self) -> "Sandbox":
        names = self.selected()
        try:
            if self.include_services:
                self._start_pki()
            if "exact" in names:
                ensure_exact_refresh_token(self.project_root, self.catalog)
            for name in names:
                if name in HTTP_STANDINS:
                    self._start_http(name)
            if self.include_services:
                sftp = [n for n in names if n in SFTP_SYSTEMS]
                if sftp:
                    self._start_sshd(sftp)
                databases = [n for n in names if n in DATABASE_SYSTEMS]
                if databases:
                    self._start_databases(databases)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        items = list(reversed(list(self.running.values())))
        for item in items:  # ask every server to exit first, then wait: they stop in parallel
            if item.server is not None:
                item.server.should_exit = True
        for item in items:
            try:
                if item.thread is not None:
                    item.thread.join(timeout=5)
                stop = getattr(item.handle, "stop", None) or getattr(item.handle, "close", None)
                if callable(stop):
                    stop()
            except Exception as exc:  # noqa: BLE001 - stop the others regardless
                log.warning("stopping %s: %s", item.name, exc)
        self.running.clear()
        if self._students_before is not None:
            from sandbox.rest import synthetic

            synthetic.STUDENT_COUNT, self._students_before = self._students_before, None

    def __enter__(self) -> "Sandbox":
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP stand-ins -------------------------------------------------------------------

    def _start_http(self, name: str) -> None:
        module_name, attr = HTTP_STANDINS[name].split(":")
        try:
            create_app = getattr(importlib.import_module(module_name), attr)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                self.skipped[name] = f"{module_name} is not in this tree (yet)"
                return
            raise
        env = self.catalog.systems[name].environments["sandbox"]
        if not env.url:
            self.skipped[name] = "no sandbox url in catalog.yaml"
            return
        parts = urlsplit(env.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", 0 if self.free_ports else (parts.port or 80)))
        except OSError as exc:
            sock.close()
            self.skipped[name] = f"port {parts.port} is taken ({exc.strerror})"
            return
        port = sock.getsockname()[1]
        settings = _with_port(env, parts.port, port, self.options.get(name, {}))
        from runtime.paths import specs_dir

        ctx = StandinContext(name=name, project_root=self.project_root, settings=settings,
                             specs_dir=specs_dir(self.project_root))
        try:
            app = create_app(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken stand-in must not keep the others down
            sock.close()
            from runtime import redact

            self.skipped[name] = redact.text(f"did not start: {type(exc).__name__}: {exc}")
            log.warning("sandbox %s did not start", name, exc_info=True)
            return
        server, thread = _serve(app, sock, name)
        self.running[name] = Running(name, "http", settings.url, ctx, server, thread)

    # -- services written by other developers ---------------------------------------------

    def _start_pki(self) -> None:
        try:
            from sandbox.soap.pki import ensure_sandbox_pki
        except ImportError:
            self.skipped["pki"] = "sandbox.soap.pki is not in this tree (yet); DUO stand-ins need it"
            return
        ensure_sandbox_pki(self.project_root)
        self.running["pki"] = Running("pki", "pki")

    def _start_sshd(self, systems: list[str]) -> None:
        """One SFTP server for every SFTP system, each in its folder: OpenSSH's sshd
        (sandbox/sftp/server.py) when usable, else the paramiko server (sandbox/sftp/pyserver.py);
        ``KOPPEL_SANDBOX_SFTP=auto|sshd|paramiko`` forces the choice."""
        try:
            server = importlib.import_module("sandbox.sftp.server")
            pyserver = importlib.import_module("sandbox.sftp.pyserver")
        except ImportError:
            for n in systems:
                self.skipped[n] = "sandbox.sftp.server is not in this tree (yet)"
            return
        env = self.catalog.systems[systems[0]].environments["sandbox"]
        username = getattr(env.auth, "username", None) or server.SANDBOX_USER
        port = server.free_port() if self.free_ports else (env.port or server.DEFAULT_PORT)
        try:
            choice, why = pyserver.select_server(username)
        except ValueError as exc:
            for n in systems:
                self.skipped[n] = str(exc)
            return
        handle = None
        if choice == "sshd":
            try:
                handle = server.start(self.project_root, port, systems=tuple(systems))
            except Exception as exc:  # noqa: BLE001 - sshd missing, port taken: the rest still runs
                if why.startswith(pyserver.ENV_CHOICE):  # forced: no fallback
                    for n in systems:
                        self.skipped[n] = f"sshd not started: {exc}"
                    return
                choice, why = "paramiko", f"sshd did not start: {exc}"
        if handle is None:
            try:
                handle = pyserver.start(self.project_root, port, systems=tuple(systems), username=username)
            except Exception as exc:  # noqa: BLE001 - port taken: the rest still runs
                for n in systems:
                    self.skipped[n] = f"SFTP server (paramiko) not started: {exc}; {why}"
                return
        self.sftp_server = f"{choice} ({why})"
        log.info("sandbox SFTP stand-in: %s on 127.0.0.1:%s", self.sftp_server, handle.port)
        for n in systems:
            folder = handle.base_dirs[n]
            shown = folder.relative_to(self.project_root) if folder.is_relative_to(self.project_root) else folder
            self.running[n] = Running(n, choice, f"sftp://{handle.username}@127.0.0.1:{handle.port}/{shown}")
        self.running["sshd"] = Running("sshd", choice, handle=handle)

    def _start_databases(self, systems: list[str]) -> None:
        """The data layer's schemas (sandbox/databases.py ``create``: idempotent)."""
        try:
            databases = importlib.import_module("sandbox.databases")
        except ImportError:
            for n in systems:
                self.skipped[n] = "sandbox.databases is not in this tree (yet)"
            return
        try:
            where = databases.create(self.project_root)
        except Exception as exc:  # noqa: BLE001 - the HTTP stand-ins still run
            from runtime import redact

            for n in systems:
                self.skipped[n] = redact.text(f"database not created: {exc}")
            return
        for n in systems:
            self.running[n] = Running(n, "database", str(where.get(n, "")))


def _with_port(env: Any, old_port: int | None, new_port: int, options: dict[str, Any]):
    """The system's settings with its own port replaced (also in a token_url) and options merged."""

    def fix(url: str | None) -> str | None:
        if not url or old_port == new_port:
            return url
        p = urlsplit(url)
        if p.hostname == "127.0.0.1" and p.port == old_port:
            return urlunsplit(p._replace(netloc=f"127.0.0.1:{new_port}"))
        return url

    update: dict[str, Any] = {"url": fix(env.url), "options": {**(env.options or {}), **options}}
    auth = env.auth
    if auth is not None and getattr(auth, "token_url", None):
        update["auth"] = auth.model_copy(update={"token_url": fix(auth.token_url)})
    return env.model_copy(update=update)


def _serve(app: Any, sock: socket.socket, name: str):
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{name}", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the {name} stand-in did not start")
        time.sleep(0.01)
    return server, thread
