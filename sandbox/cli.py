"""``koppel sandbox``: start the local stand-ins, or list them."""

from __future__ import annotations

import signal
import threading

import click

from sandbox.registry import DATABASE_SYSTEMS, HTTP_STANDINS, PUSHERS, SFTP_SYSTEMS

#: what each stand-in speaks, for ``koppel sandbox list``
SPEAKS: dict[str, str] = {
    "iam": "pushes SCIM 2.0 Users/Groups to Koppel (POST /_sandbox/push)",
    "website": "OOAPI v5 Programs/Offerings (PUT), bearer",
    "aanmeldmodule": "SFTP drop + application webhooks to Koppel, signed as Standard Webhooks",
    "centraal-aanmelden": "REST: applications changed since, paged, bearer",
    "sbb": "SOAP: leerbedrijven (Zoeken/GeefDetails)",
    "intergrip": "REST: doorstroomdossiers (GET, paged) + status pushes, bearer",
    "vva": "REST: the five legal application statuses, bearer",
    "kennisnet": "SOAP: ECK-iD Nummervoorziening",
    "signhost": "Signhost REST API + SHA-1 checksummed postbacks",
    "duo-rod": "SOAP (Edukoppeling, signed): ROD",
    "duo-verzuim": "SOAP (Edukoppeling, signed): verzuimregister",
    "duo-rio": "SOAP (Edukoppeling, signed): RIO beheren 4.0",
    "dms": "Therefore REST CreateDocument, basic auth",
    "crm": "REST: applications (planned interface), bearer",
    "exact": "OData v2 SalesInvoiceLines, rotating refresh tokens, 60 calls/min",
    "xedule": "REST timetable, OAuth2 client credentials + subscription key",
    "b3net": "REST verbintenis changes + BPV match webhooks, signed as Standard Webhooks",
    "facet": "no stand-in: files in var/uploads/facet and var/downloads/facet, moved by the exam office",
    "toa": "SFTP drop (CSV user import with import labels)",
    "remindo": "NED OOAPI OKE (sessions, persons, associations; results pushed as PATCH)",
    "dlo": "REST: formative results, paged, bearer",
    "datalaag": "database (data layer)",
    "mip": "database (MIP schema)",
}


def sftp_server(username: str) -> str:
    """The SFTP server ``up`` would start: ``sshd`` or ``paramiko`` (sandbox/sftp/pyserver.py)."""
    from sandbox.sftp.pyserver import select_server

    try:
        return select_server(username)[0]
    except ValueError as exc:
        return f"? ({exc})"


@click.group()
def sandbox() -> None:
    """Local stand-ins for the college's external systems."""


@sandbox.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Show every system's stand-in: where it listens and what it speaks."""
    from sandbox.runner import load_catalog

    catalog = load_catalog(ctx.obj["project"])
    rows = []
    for name in sorted(catalog.systems):
        env = catalog.systems[name].environments["sandbox"]
        if name in HTTP_STANDINS:
            kind, where = "http", env.url or "-"
        elif name in SFTP_SYSTEMS:
            kind, where = "sftp", f"sftp://{env.host}:{env.port}/{(env.options or {}).get('base_dir', '')}"
        elif name in DATABASE_SYSTEMS:
            kind, where = "db", env.dsn or "-"
        else:
            continue
        if name in PUSHERS:
            kind += "+push"
        speaks = SPEAKS.get(name, "")
        if name in SFTP_SYSTEMS:
            speaks += f" (server: {sftp_server(getattr(env.auth, 'username', None) or 'koppel')})"
        rows.append((name, kind, where, speaks))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(col.ljust(widths[i]) if i < 3 else col for i, col in enumerate(row)).rstrip())


@sandbox.command()
@click.argument("names", nargs=-1)
@click.pass_context
def up(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Start the stand-ins (all, or the NAMES given) and keep them running until Ctrl-C."""
    from sandbox.runner import Sandbox

    box = Sandbox(ctx.obj["project"], names=list(names) or None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    box.start()
    try:
        for name, item in box.running.items():
            if item.url:
                click.echo(f"  {name:<20} {item.url}")
        for name, reason in box.skipped.items():
            click.secho(f"  {name:<20} skipped: {reason}", fg="yellow")
        if getattr(box, "sftp_server", None):
            click.echo(f"  SFTP server: {box.sftp_server}")
        koppel = {str((item.context.settings.options or {}).get("koppel_url")) for item in box.running.values()
                  if item.context is not None and (item.context.settings.options or {}).get("koppel_url")}
        if koppel:
            click.echo(f"  webhooks, postbacks and SCIM go to {', '.join(sorted(koppel))} "
                       "(/hooks/aanmeldmodule, /hooks/b3net, /hooks/signhost, /scim/v2)")
        click.echo("sandbox up; Ctrl-C stops it")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
        click.echo("sandbox stopped")
