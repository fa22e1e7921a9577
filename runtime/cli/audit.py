"""``koppel audit list``: the audit trail of the console's operator actions, newest first.

Reads the state database only (``KOPPEL_STATE_URL``, else the SIS store's database): no
definitions are loaded, so the trail can be read while a definition file is being fixed.
"""

from __future__ import annotations

import json

import click

from runtime.cli.output import format_option
from runtime.engine.audit import ACTIONS


@click.group()
def audit() -> None:
    """The audit trail: who ran, replayed or discarded what, when and why."""


@audit.command("list")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--action", type=click.Choice(ACTIONS), default=None)
@click.option("--actor", default=None, help="Only this person's actions.")
@click.option("--interface", "interface_id", type=int, default=None, help="Only this interface number.")
@format_option()
@click.pass_context
def audit_list(ctx: click.Context, limit: int, action: str | None, actor: str | None, interface_id: int | None,
               as_json: bool) -> None:
    """Operator actions, newest first."""
    from runtime.engine import audit as trail
    from runtime.engine.state.store import StateStore
    from runtime.settings import state_url

    store = StateStore(state_url(ctx.obj["project"]))
    try:
        entries = trail.entries(store, limit=limit, action=action, actor=actor, interface_id=interface_id)
    finally:
        store.close()
    if as_json:
        for e in entries:
            click.echo(json.dumps(e, default=str, ensure_ascii=False))
        return
    if not entries:
        click.echo("no operator actions recorded")
        return
    click.echo(f"{'id':>5} {'at (UTC)':19} {'who':16} {'role':8} {'action':8} {'if':>3}  what / why / outcome")
    for e in entries:
        iid = "" if e["interface_id"] is None else e["interface_id"]
        click.echo(f"{e['id']:>5} {e['at']:%Y-%m-%d %H:%M:%S} {e['actor'][:16]:16} {e['role']:8} {e['action']:8} "
                   f"{iid:>3}  {e['subject'] or '-'}")
        click.echo(f"{'':>66}why: {e['reason'] or '-'}; outcome: {e['outcome'] or '-'}")
