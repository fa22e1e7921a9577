"""``koppel demo``: the whole college on one machine, from an empty folder to a table of results.

1. validate every definition;
2. create the SIS store (embedded SQLite under var/, made anew) and seed a synthetic college;
3. start every stand-in of the sandbox and Koppel's own webhook server;
4. run every active batch interface once, and let every realtime one take up what is waiting;
5. make a burst of realtime changes: status changes, enrollments and absence in the SIS store
   (plain SQL, as any client would), IAM provisioning over SCIM, applications from the
   aanmeldmodule, BPV matches from B3Net — and let the realtime interfaces deliver them;
6. print one table, interface by interface, and where to look next.

It ends by itself and leaves the SIS store, the state (runs, deliveries, dead letters) and what
the stand-ins wrote under var/ to inspect with ``koppel runs`` and ``koppel deadletters list``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

DEFAULT_STUDENTS = 300
KOPPEL_PORT = 8470  # catalog.yaml's sandbox koppel_url
SIGN_DELAY = 0.5  # seconds before the Signhost stand-in's signers sign


@dataclass
class Tally:
    """What one interface did over the whole demo (it may have run more than once)."""

    read: int = 0
    delivered: int = 0
    dead: int = 0
    duration: float = 0.0
    outcomes: list[str] = field(default_factory=list)

    def add(self, summary) -> None:
        self.read += summary.read
        self.delivered += summary.delivered
        self.dead += summary.dead
        self.duration += summary.duration
        self.outcomes.append(summary.outcome)

    @property
    def outcome(self) -> str:
        for worst in ("error", "stopped", "partial"):
            if worst in self.outcomes:
                return worst
        return "ok" if self.outcomes else "not run"


@click.command()
@click.option("--students", type=click.IntRange(10), default=DEFAULT_STUDENTS, show_default=True)
@click.option("--seed", "seed_value", type=int, default=1, show_default=True)
@click.option("--keep-serving", is_flag=True,
              help="Keep the stand-ins and Koppel's server (with the console at /ui) up until Ctrl-C.")
@click.pass_context
def demo(ctx: click.Context, students: int, seed_value: int, keep_serving: bool) -> None:
    """Run the whole college on one machine: seed, sandbox, every interface, one table."""
    from runtime.engine import Engine
    from runtime.project import load_project

    root: Path = ctx.obj["project"]
    if ctx.obj["environment"] != "sandbox":
        raise click.ClickException("the demo runs only in the sandbox environment (KOPPEL_ENV=sandbox)")
    project = load_project(root).require_valid()
    step("definitions", f"{len(project.interfaces)} interfaces valid")

    url = fresh_store(root, students, seed_value)
    log_path = quiet_logs(root)
    engine = Engine(project, environment="sandbox")
    tallies: dict[int, Tally] = {i: Tally() for i in sorted(project.interfaces)}

    from sandbox.runner import Sandbox

    options = {"signhost": {"sign_delay": SIGN_DELAY}}
    with Sandbox(root, students=students, options=options).start() as sandbox, KoppelServer(engine):
        skipped = getattr(sandbox, "skipped", {})
        step("sandbox", f"{len(sandbox.selected())} stand-ins up" + (f", skipped: {skipped}" if skipped else ""))
        active = {i: it for i, it in project.interfaces.items() if it.status == "active"}

        for iid in [i for i, it in active.items() if it.type == "batch"]:
            run(engine, iid, "manual", tallies)
        step("batch", "every batch interface ran once")

        # Realtime interfaces start from "now": the first slice records where the outbox stands
        # and takes up what other systems already have waiting (Centraal Aanmelden, Exact, ...).
        realtime = [i for i, it in active.items() if it.type == "realtime"]
        for iid in realtime:
            run(engine, iid, trigger_of(active[iid]), tallies)
        step("realtime", "subscribed; what other systems had waiting is in")

        burst(root, url, sandbox)
        for iid in realtime:
            run(engine, iid, trigger_of(active[iid]), tallies)
        step("burst", "changes, provisioning, applications and matches delivered")

        # What the targets told Koppel afterwards (Signhost's postbacks: signed, rejected)
        with_callbacks = [i for i, it in active.items() if getattr(it, "callbacks", None)]
        if with_callbacks:
            time.sleep(SIGN_DELAY * 3)  # the stand-in's signers sign after SIGN_DELAY
            for iid in with_callbacks:
                run(engine, iid, "webhook", tallies)
            step("callbacks", "postbacks from Signhost applied to the documents")
        if keep_serving:
            ending(project, tallies, root, log_path, serving=True)
            wait_for_interrupt()
    if not keep_serving:
        ending(project, tallies, root, log_path, serving=False)
    failed = [i for i, t in tallies.items() if project.interfaces[i].status == "active" and t.outcome != "ok"]
    if failed:
        ctx.exit(1)


def ending(project, tallies: dict[int, "Tally"], root: Path, log_path: Path, *, serving: bool) -> None:
    """The table, where to look next, and the console with a sandbox login."""
    from sandbox.console_users import SANDBOX_LOGINS

    print_table(project, tallies)
    click.echo(
        "\nNext: `koppel runs` for the history, `koppel deadletters list` for what could not be "
        f"delivered, `koppel sis outbox --tail 20` for the latest changes, {log_path.relative_to(root)} "
        "for the log (JSON lines, personal numbers masked), var/sandbox/ for the stand-ins' files."
    )
    logins = ", ".join(f"{name} / {password}" for name, (_, password) in SANDBOX_LOGINS.items())
    url = f"http://127.0.0.1:{KOPPEL_PORT}/ui/"
    if serving:
        click.echo(f"\nConsole: {url}  (sign in as {logins}); Ctrl-C stops the demo.")
    else:
        click.echo(f"\nConsole: `koppel demo --keep-serving` leaves it up at {url} (sign in as {logins}); "
                   "`koppel serve` serves it too.")


def wait_for_interrupt() -> None:
    """Until Ctrl-C or SIGTERM; then the stand-ins and the server stop as after a normal demo."""
    import signal

    def interrupt(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping")


def step(name: str, message: str) -> None:
    click.echo(f"{click.style('•', fg='green')} {name:<12} {message}")


def fresh_store(root: Path, students: int, seed_value: int) -> str:
    """Start from an empty embedded store so that every demo tells the same story."""
    from runtime.paths import var_dir
    from runtime.settings import documents_dir, sis_url
    from runtime.sis import schema
    from runtime.sis.seed import seed_store

    if os.environ.get("KOPPEL_SIS_URL") or os.environ.get("KOPPEL_STATE_URL"):
        raise click.ClickException(
            "the demo makes its own embedded store; unset KOPPEL_SIS_URL and KOPPEL_STATE_URL"
        )
    var = var_dir(root)
    for path in [*var.glob("koppel.db*"), *var.glob("datalaag*.db*")]:
        path.unlink()
    url = sis_url(root)
    schema.init(url)
    started = time.perf_counter()
    counts = seed_store(url, students=students, seed=seed_value, documents_dir=documents_dir(root))
    step("sis store", f"{students} students seeded ({sum(counts.values())} rows, {time.perf_counter() - started:.1f}s)")
    return url


def quiet_logs(root: Path) -> Path:
    """The run's log goes to a file, so the terminal shows the story and the table."""
    from runtime.engine.logs import configure
    from runtime.paths import var_dir

    path = var_dir(root) / "demo.log"
    stream = path.open("w", encoding="utf-8")
    configure(json_lines=True, level="INFO", stream=stream)
    return path


class KoppelServer:
    """Koppel's webhook/SCIM server on the port the stand-ins call, in a background thread."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.server = None
        self.thread = None

    def __enter__(self) -> "KoppelServer":
        import threading

        import uvicorn

        from runtime.engine.server import create_app

        config = uvicorn.Config(create_app(self.engine), host="127.0.0.1", port=KOPPEL_PORT, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="koppel-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def trigger_of(interface) -> str:
    return interface.trigger.type


def run(engine, iid: int, trigger: str, tallies: dict[int, Tally]) -> None:
    summary = engine.run_interface(iid, trigger=trigger)
    tallies[iid].add(summary)


def burst(root: Path, url: str, sandbox) -> None:
    """Realtime changes from every side at once."""
    from sandbox.burst import make_burst

    made = make_burst(root, url, sandbox)
    step("burst", ", ".join(f"{n} {what}" for what, n in made.items()))


def print_table(project, tallies: dict[int, Tally]) -> None:
    catalog = project.catalog
    header = ["#", "from → to", "type", "read", "delivered", "dead", "duration", "outcome"]
    rows = []
    for iid, tally in tallies.items():
        row = catalog.row(iid)
        interface = project.interfaces[iid]
        outcome = "planned" if interface.status == "planned" else tally.outcome
        rows.append(
            [
                str(iid),
                f"{row.from_} → {row.to}".replace("\n", " ")[:48],
                interface.type,
                str(tally.read),
                str(tally.delivered),
                str(tally.dead),
                f"{tally.duration:.1f}s",
                outcome,
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    click.echo("")
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    click.echo("  ".join("-" * w for w in widths))
    for r in rows:
        colour = {"ok": "green", "planned": "blue", "partial": "yellow"}.get(r[-1], "red")
        cells = "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths))
        click.echo(f"{cells}  {click.style(r[-1], fg=colour)}")
