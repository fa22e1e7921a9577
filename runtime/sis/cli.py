"""``koppel sis``: create, fill and inspect the central SIS store.

    koppel sis init                          create or upgrade the schema at KOPPEL_SIS_URL
    koppel sis seed --students 2000 --seed 7 a deterministic synthetic college (empty store only),
                                             its documents' PDFs in KOPPEL_DOCUMENTS_DIR (var/documents)
    koppel sis outbox --tail 20 [--object student] [--follow]
    koppel sis stats                         rows per object table and the outbox position
    koppel sis merge-person KEEP DROP        one human in two person rows: DROP's rows move to KEEP

The store is KOPPEL_SIS_URL, default an SQLite file under var/ (``runtime.settings.sis_url``).
Nothing printed here carries a BSN: outbox keys and messages go through ``runtime.redact``.
"""

from __future__ import annotations

import time

import click

from runtime import redact
from runtime.settings import sis_url


def _url(ctx: click.Context) -> str:
    return sis_url(ctx.obj["project"])


def _display(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group()
def sis() -> None:
    """The central SIS store (SQLite by default, PostgreSQL in production)."""


@sis.command()
@click.option("--migrate", is_flag=True,
              help="Also drop or alter declared fields that were removed or retyped in objects/ (loses their data).")
@click.pass_context
def init(ctx: click.Context, migrate: bool) -> None:
    """Create the SIS schema, or upgrade it to the latest migration; then create or evolve the
    objects and fields declared in objects/*.yaml."""
    from runtime.sis import declared, schema

    url = _url(ctx)
    before, after = _guard(lambda: schema.init(url), url)
    if before == after:
        click.echo(f"SIS store {_display(url)} is up to date (revision {after}).")
    else:
        click.echo(f"SIS store {_display(url)}: {before or 'empty'} → revision {after}.")
    for change in _guard(lambda: declared.apply(url, ctx.obj["project"], migrate=migrate), url):
        click.echo(f"  declared: {change}")


@sis.command()
@click.option("--students", type=click.IntRange(1), default=2000, show_default=True, help="How many students.")
@click.option("--seed", "seed_value", type=int, default=1, show_default=True, help="Same seed, same college.")
@click.pass_context
def seed(ctx: click.Context, students: int, seed_value: int) -> None:
    """Fill an empty SIS store with a synthetic college (runs ``init`` first); the documents'
    PDFs go to KOPPEL_DOCUMENTS_DIR (default var/documents)."""
    from runtime.settings import documents_dir
    from runtime.sis import schema
    from runtime.sis.seed import seed_store

    url = _url(ctx)
    folder = documents_dir(ctx.obj["project"])
    _guard(lambda: schema.init(url), url)
    started = time.perf_counter()
    counts = _guard(lambda: seed_store(url, students=students, seed=seed_value, documents_dir=folder), url)
    elapsed = time.perf_counter() - started
    total = sum(counts.values())
    click.echo(f"Seeded {_display(url)} with seed {seed_value}:")
    for object_type, n in counts.items():
        click.echo(f"  {object_type:<20} {n:>9}")
    click.echo(f"  {'total':<20} {total:>9} rows in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s)")
    click.echo(f"Document files (PDF) in {folder}")


@sis.command()
@click.option("--tail", "tail", type=click.IntRange(1), default=20, show_default=True, help="Show the last N changes.")
@click.option("--object", "objects", multiple=True, help="Only these object types (repeatable).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new changes as they arrive.")
@click.pass_context
def outbox(ctx: click.Context, tail: int, objects: tuple[str, ...], follow: bool) -> None:
    """Show the latest changes in the outbox (keys masked where they could be a BSN)."""
    from runtime.sis.outbox import OutboxReader

    url = _url(ctx)
    reader = _guard(lambda: OutboxReader(url, listen=follow), url)
    try:
        rows = _guard(lambda: reader.last(tail, list(objects) or None), url)
        for row in rows:
            _echo_row(row)
        cursor = rows[-1].seq if rows else reader.max_seq()
        while follow:
            new = reader.read_after(cursor, list(objects) or None, 500)
            for row in new:
                _echo_row(row)
            cursor = max(cursor, reader.horizon)
            if not new:
                reader.wait(5.0)
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()


def _echo_row(row) -> None:  # noqa: ANN001
    when = row.changed_at.strftime("%Y-%m-%d %H:%M:%S")
    click.echo(f"{row.seq:>10}  {when}  {row.op:<6}  {row.object:<18}  {redact.text(row.key)}")


@sis.command()
@click.pass_context
def stats(ctx: click.Context) -> None:
    """Rows per object table and the outbox position."""
    from sqlalchemy import func, select

    from runtime.sis import schema
    from runtime.sis.models import OBJECTS, Outbox

    url = _url(ctx)
    engine = schema.engine(url)

    def counts() -> tuple[str | None, list[tuple[str, int]]]:
        with engine.connect() as connection:
            found = [
                (name, connection.execute(select(func.count()).select_from(model)).scalar_one())
                for name, model in OBJECTS.items()
            ]
            found.append(("outbox (last seq)", connection.execute(select(func.max(Outbox.seq))).scalar_one() or 0))
        return schema.current_revision(engine), found

    try:
        revision, found = _guard(counts, url)
    finally:
        engine.dispose()
    click.echo(f"SIS store {_display(url)}, revision {revision or '(none)'}")
    for name, n in found:
        click.echo(f"  {name:<20} {n:>9}")


@sis.command("merge-person")
@click.argument("keep")
@click.argument("drop")
@click.pass_context
def merge_person(ctx: click.Context, keep: str, drop: str) -> None:
    """Merge person DROP into person KEEP (one transaction): DROP's applications, documents,
    memberships and other rows move to KEEP, KEEP's empty fields are filled from DROP, DROP is
    deleted. Refused for two different BSNs or onderwijsnummers (runtime/sis/merge.py)."""
    from runtime.sis.merge import merge

    url = _url(ctx)
    result = _guard(lambda: merge(url, keep, drop), url)
    click.echo(f"Merged person {drop} into {keep}; {drop} is deleted.")
    for table, n in sorted(result.moved.items()):
        click.echo(f"  moved    {table:<20} {n:>6}")
    for table, n in sorted(result.dropped_twins.items()):
        click.echo(f"  twin     {table:<20} {n:>6}  (KEEP had it already)")
    if result.filled:
        click.echo(f"  filled from {drop}: {', '.join(result.filled)}")


def _guard(action, url: str):  # noqa: ANN001, ANN202
    """Turn a database failure into a short message without credentials or personal data."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from runtime.errors import ConfigError

    try:
        return action()
    except (OperationalError, ProgrammingError) as exc:
        reason = redact.text(str(exc.orig).strip().splitlines()[0]) if exc.orig else type(exc).__name__
        if "no such table" in reason or ("does not exist" in reason and "relation" in reason):
            reason += " (run 'koppel sis init' first)"
        raise ConfigError(f"SIS store {_display(url)}: {reason}") from exc
