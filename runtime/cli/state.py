"""``koppel state rekey|forget|new-key`` and ``koppel purge``: Koppel's own state at rest.

All of them are safe while ``koppel serve`` runs: they work in small transactions. Nothing they
print holds a payload; a source key is echoed masked (it may be a BSN pasted by mistake).
"""

from __future__ import annotations

import json

import click

from runtime.cli.output import format_option


@click.group()
def state() -> None:
    """Koppel's own state: re-encrypt under the newest key, forget a person, make a key."""


@state.command("new-key")
def new_key() -> None:
    """Print a fresh data key (32 random bytes, base64) for catalog.yaml's state.keys."""
    from runtime.engine.state.crypto import new_key_text

    click.echo(new_key_text())


@state.command("rekey")
@click.option("--batch", type=click.IntRange(1, 10_000), default=200, show_default=True,
              help="Rows re-encrypted per transaction.")
@click.pass_context
def rekey(ctx: click.Context, batch: int) -> None:
    """Re-encrypt every stored payload under the first key of state.keys (old keys can go afterwards)."""
    from runtime.engine.cli import _engine
    from runtime.engine.state import crypto
    from runtime.engine.state.rekey import rekey as run_rekey

    engine = _engine(ctx)
    try:
        keyring = crypto.active()
        done = run_rekey(engine.store, batch=batch)
    finally:
        engine.close()
    total = sum(done.values())
    click.echo(f"re-encrypted {total} row(s) under key {keyring.current if keyring else '-'}: "
               + ", ".join(f"{t} {n}" for t, n in done.items()))


@state.command("forget")
@click.option("--source-key", required=True, help="The source's key of the person (e.g. a student number).")
@click.option("--reason", default="erasure request", show_default=True, help="Why (kept in the audit trail).")
@click.option("--actor", envvar="USER", default="cli", help="Who asks (default: $USER).")
@click.pass_context
def forget(ctx: click.Context, source_key: str, reason: str, actor: str) -> None:
    """Remove one person's stored payloads from Koppel's state (not from the SIS), recorded in the audit trail."""
    from runtime import redact
    from runtime.engine import audit
    from runtime.engine.cli import _engine
    from runtime.engine.state.rekey import forget as run_forget

    engine = _engine(ctx)
    try:
        removed = run_forget(engine.store, source_key)
        summary = ", ".join(f"{t} {n}" for t, n in removed.items())
        audit.record(engine.store, audit.Actor(actor, "operator"), "forget", subject=f"source key {source_key}",
                     reason=reason, outcome=f"removed {summary}")
    finally:
        engine.close()
    click.echo(f"forgot source key {redact.text(source_key)}: removed {summary} (recorded in the audit trail)")


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@click.option("--batch", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Rows removed per transaction.")
@format_option()
@click.pass_context
def purge(ctx: click.Context, dry_run: bool, batch: int, as_json: bool) -> None:
    """Remove stored rows past their retention (delivery.retention, catalog state.retention)."""
    from runtime.engine.cli import _engine
    from runtime.engine.state.retention import purge as run_purge
    from runtime.engine.state.retention import sis_engine_for

    engine = _engine(ctx)
    sis = sis_engine_for(engine.project)
    try:
        report = run_purge(engine.store, engine.project, dry_run=dry_run, batch=batch, sis_engine=sis)
    finally:
        engine.close()
        if sis is not None:
            sis.dispose()
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "removed": report.removed, "notes": report.notes}))
        return
    verb = "would remove" if dry_run else "removed"
    for what, n in report.removed.items():
        click.echo(f"{verb} {n:>8}  {what}")
    for note in report.notes:
        click.echo(f"note: {note}")
