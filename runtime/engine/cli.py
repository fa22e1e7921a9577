"""``koppel run | dry-run | runs | deadletters | serve``.

Exit codes (runtime/cli/exitcodes.py): 0 every record delivered (or skipped), 3 some went to the
dead letters, 1 the run stopped on an error (configuration, source down, ...), 2 a usage error.
Every command that lists or reports takes ``--format text|json`` (``--json`` is kept as an alias).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time

import click

from runtime import redact
from runtime.cli import exitcodes
from runtime.cli.output import format_option


def _engine(ctx: click.Context, only: list[str] | None = None):
    """The engine over the validated project (the same checks as ``koppel validate``).

    With ``only`` (interface references), problems in other interfaces' files do not block:
    running interface 4 should not wait for a fix in interface 26. The catalog, the interface's
    own file and the mappings it uses must be clean.

    Built with the cyclic garbage collector paused: start-up creates hundreds of thousands of
    objects (modules, classes, the project's models) and no garbage worth a collection, and each
    collection on the way scans all of them (~15% of the imports' time, measured).
    """
    from runtime.gcpause import paused_gc

    with paused_gc():
        return _build_engine(ctx, only)


def _build_engine(ctx: click.Context, only: list[str] | None):
    from runtime.engine.logs import configure
    from runtime.engine.pipeline import Engine
    from runtime.errors import DefinitionError
    from runtime.project import load_project

    configure(level="DEBUG" if ctx.obj.get("debug") else "INFO")
    # naming interfaces loads only those (and what they use); commands over all of them load all
    project = load_project(ctx.obj["project"], only=only or None)
    problems = project.diagnostics
    if only is not None and problems:
        from runtime.servable import interface_files

        files = {"catalog.yaml"}
        for ref in only:
            broken = _broken_file(project, ref)
            # an interface whose own file is invalid was not loaded: its file's problems are the
            # answer, not "unknown interface"
            files |= {broken} if broken else interface_files(project, project.interface(ref))
        problems = [d for d in problems if d.file in files or d.file.startswith("mappings/valuemaps")]
    if problems:
        raise DefinitionError(sorted(problems))
    return Engine(project, environment=ctx.obj["environment"])


def _since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    from runtime.models.common import parse_duration

    try:
        return dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("write a duration (2h, 3d) or a date (2026-11-28)") from exc
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


class _Progress:
    """A one-line progress display on a terminal; silent when the output is piped. When the
    sources say how many records they will read (``Source.total``), it shows a bar, the rate and
    the time left: records still to read × the time per record so far."""

    def __init__(self, label: str, *, stream=None, clock=time.monotonic) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.active = self.stream.isatty()
        self.wants_total = self.active
        self.total: int | None = None
        self.clock = clock
        self.started = clock()

    def expect(self, total: int | None) -> None:
        """A source will read ``total`` records (added up over the interface's sources)."""
        if total is not None:
            self.total = (self.total or 0) + total

    def __call__(self, counts: dict) -> None:
        if self.active:
            self.stream.write("\r" + self.line(counts) + "   ")
            self.stream.flush()

    def line(self, counts: dict) -> str:
        text = (f"{self.label}: read {counts['read']:,}  delivered {counts['delivered']:,}  "
                f"skipped {counts['skipped']:,}  dead {counts['dead']:,}")
        if not self.total:
            return text
        done = min(counts["read"], self.total)
        width = 20
        bar = "#" * (width * done // self.total) + "-" * (width - width * done // self.total)
        elapsed = self.clock() - self.started
        eta = "" if not done else f"  ETA {_duration(elapsed / done * (self.total - done))}"
        return f"{self.label}: [{bar}] {done:,}/{self.total:,}{eta}  delivered {counts['delivered']:,}  dead {counts['dead']:,}"

    def done(self) -> None:
        if self.active:
            self.stream.write("\n")


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _print_summary(s) -> None:
    colour = {"ok": "green", "partial": "yellow", "skipped": "yellow"}.get(s.outcome, "red")
    click.secho(f"interface {s.interface_id}: {s.outcome}", fg=colour, nl=False)
    click.echo(f"  read {s.read}  mapped {s.mapped}  filtered {s.filtered}  skipped {s.skipped}  "
               f"delivered {s.delivered}  retried {s.failed}  dead {s.dead}  ({s.duration:.1f}s)"
               + (f"  run {s.run_id}" if s.run_id else ""))
    if s.message:
        click.echo(f"  {redact.text(s.message)}")


def _audited(f):
    """``--reason`` and ``--actor``: what the audit trail keeps of a command-line action."""
    f = click.option("--actor", envvar="USER", default="cli", show_default="$USER",
                     help="Who acts (kept in the audit trail).")(f)
    return click.option("--reason", default=None, help="Why (kept in the audit trail).")(f)


def _audit(engine, actor: str, action: str, iid: int | None, subject: str | None, reason: str | None,
           outcome: str) -> None:
    from runtime.engine import audit

    audit.record(engine.store, audit.cli_actor(actor), action, interface_id=iid, subject=subject,
                 reason=(reason or "").strip() or None, outcome=outcome)


@click.command()
@click.argument("interface", required=False)
@click.option("--all", "run_all", is_flag=True, help="Run every active interface once, in number order.")
@_audited
@click.pass_context
def run(ctx: click.Context, interface: str | None, run_all: bool, reason: str | None, actor: str) -> None:
    """Run INTERFACE (number or file stem) once, now (recorded in the audit trail)."""
    from runtime.errors import KoppelError

    if bool(interface) == run_all:
        raise click.UsageError("name one INTERFACE or use --all")
    engine = _started(ctx, None if run_all or interface is None else [interface])
    from runtime.engine.audit import run_outcome  # after the engine: its imports are the engine's
    refs: list[int | str] = ([i for i, f in sorted(engine.project.interfaces.items()) if f.status == "active"]
                             if run_all else [interface or ""])
    outcomes = set()
    try:
        for ref in refs:
            iid = engine.project.interface(ref).id
            progress = _Progress(f"interface {ref}")
            try:
                summary = engine.run_interface(ref, "manual", progress=progress)
            except KoppelError as exc:
                _audit(engine, actor, "run", iid, None, reason, f"failed: {exc}")
                raise
            progress.done()
            _audit(engine, actor, "run", iid, f"run {summary.run_id}" if summary.run_id else None, reason,
                   run_outcome(summary))
            _print_summary(summary)
            outcomes.add(summary.outcome)
    finally:
        engine.close()
    from runtime.cli import end_without_teardown

    end_without_teardown()  # everything is closed and recorded: no need for the interpreter's teardown
    ctx.exit(exitcodes.FAILURE if outcomes - {"ok", "skipped", "partial"}
             else exitcodes.DEAD_LETTERS if "partial" in outcomes else exitcodes.OK)


def _started(ctx: click.Context, only: list[str] | None):
    """``_engine`` for one run: the start-up objects are then frozen (``gc.freeze``), so the run's
    first collection does not scan them all once more (~20 ms); unfrozen when the command ends (an
    in-process caller gets its collector back as it was). Not for the daemon: what a reload
    replaces must stay collectable."""
    import gc

    from runtime.gcpause import paused_gc

    with paused_gc():  # _engine leaves it off, so no collection comes before the freeze
        try:
            return _engine(ctx, only)
        finally:
            gc.freeze()
            ctx.call_on_close(gc.unfreeze)


@click.command("dry-run")
@click.argument("interface")
@click.option("--limit", type=int, default=None, help="Read at most N source records.")
@format_option(help="json: one JSON object per item.")
@click.option("--from-start", is_flag=True, help="Read the source's current records, as if the interface had never run.")
@_audited
@click.pass_context
def dry_run(ctx: click.Context, interface: str, limit: int | None, as_json: bool, from_start: bool,
            reason: str | None, actor: str) -> None:
    """Show what a run of INTERFACE would send, masked; send nothing, record no delivery.

    By default from where the interface stands (what its next run would send); with
    --from-start over the source's current records, as if it had never run. Looking at what an
    interface that carries a BSN would send is recorded in the audit trail.
    """
    from dataclasses import asdict

    from runtime.engine.audit import carries_bsn
    from runtime.engine.dryrun import dry_run as do_dry_run

    engine = _engine(ctx, [interface])
    try:
        items = do_dry_run(engine, interface, limit=limit, from_start=from_start)
        definition = engine.project.interface(interface)
        if carries_bsn(engine.project, definition):
            _audit(engine, actor, "dry-run", definition.id, f"up to {limit} record(s)" if limit else "every record",
                   reason, f"{len(items)} item(s) shown")
    finally:
        engine.close()
    for item in items:
        if as_json:
            click.echo(json.dumps(asdict(item), ensure_ascii=False))
            continue
        head = f"[{item.status}] {item.target}  {item.source_key}" + (f"  key={item.key}" if item.key else "")
        click.secho(head, bold=True)
        if item.reason:
            click.echo(f"  {item.reason}")
        if item.rendered:
            click.echo("  " + item.rendered.replace("\n", "\n  "))
    totals = {s: sum(i.status == s for i in items) for s in ("send", "skip", "filtered", "dead")}
    click.echo(f"would send {totals['send']}, skip {totals['skip']} (unchanged), filtered {totals['filtered']}, "
               f"dead {totals['dead']}", err=as_json)
    if not items and not from_start:
        click.echo(f"nothing new since interface {interface}'s cursor; `koppel dry-run {interface} --from-start` "
                   "shows its mapping at work on the source's current records", err=True)


@click.command()
@click.option("--interface", "interface", default=None, help="Only this interface.")
@click.option("--limit", type=int, default=20, show_default=True)
@format_option()
@click.pass_context
def runs(ctx: click.Context, interface: str | None, limit: int, as_json: bool) -> None:
    """Run history with counts, newest first."""
    engine = _engine(ctx, [])
    try:
        iid = engine.project.interface(interface).id if interface else None
        rows = engine.store.list_runs(iid, limit)
    finally:
        engine.close()
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, default=str))
        return
    click.echo(f"{'run':>6} {'if':>3} {'trigger':8} {'started (UTC)':19} {'secs':>7} {'outcome':8} "
               f"{'read':>7} {'deliv':>7} {'skip':>6} {'retry':>6} {'dead':>5}")
    for r in rows:
        secs = (r["ended_at"] - r["started_at"]).total_seconds() if r["ended_at"] else None
        click.echo(f"{r['id']:>6} {r['interface_id']:>3} {r['trigger']:8} {r['started_at']:%Y-%m-%d %H:%M:%S} "
                   f"{(f'{secs:.1f}' if secs is not None else '-'):>7} {r['outcome']:8} {r['read']:>7} "
                   f"{r['delivered']:>7} {r['skipped']:>6} {r['failed']:>6} {r['dead']:>5}")


@click.group()
def deadletters() -> None:
    """Records that could not be delivered: list, show, replay, discard."""


def _filters(f):
    f = click.option("--interface", default=None, help="Only this interface (number or file stem).")(f)
    f = click.option("--since", default=None, help="Last attempt since: a duration (2h, 3d) or a date.")(f)
    f = click.option("--error-class", type=click.Choice(["transient", "record", "configuration"]), default=None)(f)
    return f


def _iid(engine, interface):
    return engine.project.interface(interface).id if interface else None


@deadletters.command("list")
@_filters
@click.option("--status", type=click.Choice(["open", "replayed", "discarded", "superseded", "all"]), default="open")
@click.option("--limit", type=int, default=100, show_default=True)
@format_option()
@click.pass_context
def dl_list(ctx, interface, since, error_class, status, limit, as_json) -> None:
    """List dead letters (open ones by default)."""
    from runtime.engine.deadletters import DeadLetters

    engine = _engine(ctx, [])
    try:
        rows = DeadLetters(engine).list(interface_id=_iid(engine, interface), since=_since(since),
                                        error_class=error_class, status=None if status == "all" else status, limit=limit)
    finally:
        engine.close()
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, default=str, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['id']:>6}  if {r['interface_id']:>2}  {r['target'] or '-':20} {r['stage']:10} "
                   f"{r['error_class']:9} {redact.text(r['source_key'] or ''):14} {r['last_attempt_at']:%Y-%m-%d %H:%M}  "
                   f"{r['status']:9} {r['reason'][:80]}")
    click.echo(f"{len(rows)} dead letter(s)")


@deadletters.command("show")
@click.argument("dead_id", type=int)
@click.pass_context
def dl_show(ctx, dead_id) -> None:
    """Everything about one dead letter (masked)."""
    from runtime.engine.deadletters import DeadLetters

    engine = _engine(ctx, [])
    try:
        letter = DeadLetters(engine).show(dead_id)
    finally:
        engine.close()
    if letter is None:
        raise click.ClickException(f"no dead letter {dead_id}")
    click.echo(json.dumps(letter, default=str, indent=2, ensure_ascii=False))


def _replay_scope(ctx, ids, interface) -> list[str] | None:
    """The interfaces a replay needs valid: the one named, or those of the letters given."""
    if interface:
        return [interface]
    if not ids:
        return None
    from runtime import settings
    from runtime.engine.state import StateStore

    store = StateStore(settings.state_url(ctx.obj["project"]))
    try:
        return sorted({str(d["interface_id"]) for d in store.dead_letters(ids=list(ids), status=None, limit=len(ids))})
    finally:
        store.close()


@deadletters.command("replay")
@click.argument("ids", type=int, nargs=-1)
@_filters
@click.option("--all", "everything", is_flag=True, help="Every open dead letter of every interface.")
@click.option("--force", is_flag=True, help="Send even when a newer change of the record was delivered since.")
@_audited
@click.pass_context
def dl_replay(ctx, ids, interface, since, error_class, everything, force, reason, actor) -> None:
    """Send dead letters again through the current mapping (by id, by filter, or --all), several
    letters of one record as one: its newest state, in source order."""
    from runtime.engine import audit
    from runtime.engine.deadletters import DeadLetters

    if not ids and not (interface or since or error_class or everything):
        raise click.UsageError("give dead-letter ids, a filter (--interface, --since, --error-class) or --all")
    engine = _engine(ctx, _replay_scope(ctx, ids, interface))
    try:
        results = DeadLetters(engine).replay(list(ids) or None, interface_id=_iid(engine, interface),
                                             since=_since(since), error_class=error_class, force=force)
        for iid in sorted({r.interface_id for r in results}):
            mine = [r for r in results if r.interface_id == iid]
            _audit(engine, actor, "replay", iid, audit.letters([r.id for r in mine]), reason,
                   audit.replay_outcome(mine) + (" (forced)" if force else ""))
    finally:
        engine.close()
    for r in results:
        click.echo(f"{r.id:>6}  {r.status}" + (f"  {redact.text(r.message)}" if r.message else ""))
    failed = sum(r.status == "failed" for r in results)
    click.echo(f"replayed {len(results)}: {len(results) - failed} resolved, {failed} failed again")
    ctx.exit(exitcodes.DEAD_LETTERS if failed else exitcodes.OK)


@deadletters.command("discard")
@click.argument("ids", type=int, nargs=-1)
@_filters
@click.option("--reason", default="discarded by an operator", show_default=True, help="Why (kept in the audit trail).")
@click.option("--actor", envvar="USER", default="cli", show_default="$USER", help="Who acts (kept in the audit trail).")
@click.pass_context
def dl_discard(ctx, ids, interface, since, error_class, reason, actor) -> None:
    """Close dead letters without sending them (recorded in the audit trail)."""
    from runtime.engine import audit
    from runtime.engine.deadletters import DeadLetters

    if not ids and not (interface or since or error_class):
        raise click.UsageError("give dead-letter ids or a filter (--interface, --since, --error-class)")
    engine = _engine(ctx, [])
    try:
        dl = DeadLetters(engine)
        if not ids:
            ids = [r["id"] for r in engine.store.dead_letters(interface_id=_iid(engine, interface), since=_since(since),
                                                              error_class=error_class, limit=100_000)]
        letters = engine.store.dead_letters(ids=list(ids), status="open", limit=len(ids)) if ids else []
        n = dl.discard(list(ids), reason)
        for iid in sorted({d["interface_id"] for d in letters}):
            mine = [d["id"] for d in letters if d["interface_id"] == iid]
            _audit(engine, actor, "discard", iid, audit.letters(mine), reason, f"{len(mine)} discarded")
    finally:
        engine.close()
    click.echo(f"discarded {n} dead letter(s)")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="KOPPEL_HOST")
@click.option("--port", type=int, default=8470, show_default=True, envvar="KOPPEL_PORT",
              help="The sandbox stand-ins call Koppel here (catalog.yaml: koppel_url).")
@click.option("--no-scheduler", is_flag=True, help="Serve webhooks and realtime only.")
@click.option("--only", "only", metavar="N[,N...]",
              help="Serve only these interfaces (numbers or file names), e.g. --only 28,29: to try one.")
@click.option("--strict", is_flag=True,
              help="Refuse to start when any definition is invalid (for CI). Without it every valid "
                   "interface is served and each invalid file is reported (log, /readyz, metrics).")
@click.option("--watch", is_flag=True, help="Reload the definitions when a file changes (as on SIGHUP).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, no_scheduler: bool, only: str | None, strict: bool,
          watch: bool) -> None:
    """Run the daemon: scheduler, outbox subscribers, pollers and the webhook server."""
    from runtime.engine.daemon import Daemon
    from runtime.engine.logs import configure

    refs = [r.strip() for r in only.split(",") if r.strip()] if only else None
    engine, invalid = _serve_engine(ctx, refs, strict)
    configure(json_lines=True, level="DEBUG" if ctx.obj.get("debug") else "INFO")
    Daemon(engine, host=host, port=port, scheduler=not no_scheduler, invalid=invalid, watch=watch,
           only=set(engine.project.interfaces) if refs else None).serve()


def _broken_file(project, ref: str) -> str | None:
    """The file (relative to the project) of interface ``ref`` when it is listed but not loaded."""
    text = str(ref)
    for iid, path in project.interface_paths.items():
        if text in (str(iid), f"{iid:02d}", path.stem) and iid not in project.interfaces:
            return str(path.relative_to(project.root))
    return None


def _serve_engine(ctx: click.Context, refs: list[str] | None, strict: bool):
    """The engine ``serve`` runs, and the invalid files it leaves out.

    ``--strict``: the whole project (or, with ``--only``, the named interfaces' files) must be
    valid, as ``koppel validate`` says. Otherwise the interfaces whose own files are clean are
    served (runtime/servable.py); nothing is when catalog.yaml itself is broken. Interfaces named
    with ``--only`` must be valid either way: trying one that cannot load makes no sense.
    """
    import dataclasses

    from runtime.errors import DefinitionError

    if strict or refs:
        engine = _engine(ctx, refs)
        invalid: dict[str, str] = {}
    else:
        from runtime.engine.logs import configure
        from runtime.engine.pipeline import Engine
        from runtime.project import load_project
        from runtime.servable import servable

        configure(level="DEBUG" if ctx.obj.get("debug") else "INFO")
        project = load_project(ctx.obj["project"])
        good, invalid = servable(project)
        if not good and project.diagnostics:
            raise DefinitionError(sorted(project.diagnostics))
        engine = Engine(dataclasses.replace(project, interfaces=good), environment=ctx.obj["environment"])
    if refs:
        wanted = {engine.project.interface(r).id for r in refs}
        engine.project = dataclasses.replace(engine.project, interfaces={
            i: x for i, x in engine.project.interfaces.items() if i in wanted})
    return engine, invalid
