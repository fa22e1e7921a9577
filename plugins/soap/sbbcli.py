"""``koppel sbb``: SBB White Label's identificatie and detailgegevens on demand, for the BPV office.

The licence forbids keeping Stagemarkt's data ("niet op de server/cloud opslaan, ook niet in
cache"), so the BPV office asks SBB when it needs to know, and Koppel passes the answer on to the
terminal and forgets it: nothing is written to the SIS, the state store or a file. Verificatie
needs no command: interface 8 asks it for every agreed internship.

    koppel sbb zoek --naam "Bakkerij" --postcode "1234 AB" [--huisnummer 12]   (Identificatie)
    koppel sbb details 100123456                                               (GeefDetails)

The call carries the catalog's Licentie (``options.licentie``, as interface 8's ``system_fields``) and goes through the soap
plugin as an interface's call would; the answer is shown masked (BSNs and secrets; SBB's codes
and KvK numbers stay readable). A contact person in the details is shown as SBB returns it and
kept nowhere. The command ships with the soap plugin and reaches ``koppel`` through the
``koppel.commands`` entry-point group, as plugins themselves do: ``runtime/`` names no plugin.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click

from runtime import redact
from runtime.cli.output import format_option
from runtime.errors import ConfigError

SYSTEM = "sbb"
#: the project's own contract (SBB publishes none; see docs/vendor-notes.md)
WSDL = "contracts/sbb/KOPPEL_SBB_Leerbedrijven_V1.wsdl"
#: as on interface 8's source and target: the school's licence in every call
SYSTEM_FIELDS = {"request.Licentie": "licentie"}
_POSTCODE = re.compile(r"^\s*(\d{4})\s?([A-Za-z]{2})\s*$")
_SBB_CODE = re.compile(r"^\d{9}$")

# an SBB code has nine digits and may pass the elfproef: it is a code, not a BSN
redact.register_fields(codes=["CodeLeerbedrijf"])


@click.group(name="sbb")
def sbb() -> None:
    """Look up a leerbedrijf at SBB (White Label) now; nothing of the answer is stored."""


@sbb.command(name="zoek")
@click.option("--naam", required=True, help="(Part of) the leerbedrijf's name.")
@click.option("--postcode", required=True, help="Postcode of the establishment, 1234AB or 1234 AB.")
@click.option("--huisnummer", default=None, help="House number, to tell establishments at one postcode apart.")
@format_option()
@click.pass_context
def zoek(ctx: click.Context, naam: str, postcode: str, huisnummer: str | None, as_json: bool) -> None:
    """Identificatie: naam + postcode -> the leerbedrijven SBB knows there."""
    match = _POSTCODE.match(postcode)
    if match is None:
        raise click.BadParameter(f"{postcode!r} is not a Dutch postcode (four digits and two letters, 1234 AB)",
                                 param_hint="--postcode")
    if not naam.strip():
        raise click.BadParameter("give (part of) the name", param_hint="--naam")
    request: dict[str, Any] = {"LeerbedrijfNaam": naam.strip(), "Postcode": (match.group(1) + match.group(2)).upper()}
    if huisnummer:
        request["Huisnummer"] = huisnummer.strip()
    answer = _ask(ctx, "Identificatie", request)["IdentificatieResult"]
    found = _as_list(answer.get("Leerbedrijf"))
    if as_json:
        for company in found:
            click.echo(json.dumps(company, ensure_ascii=False, default=str))
        return
    for company in found:
        click.echo(f"{company.get('CodeLeerbedrijf')}  {company.get('LeerbedrijfNaam')}  {_address(company.get('Vestigingsadres'))}")
    click.echo(f"{len(found)} leerbedrijf/leerbedrijven (SBB, not stored); details: koppel sbb details CODE", err=True)


@sbb.command(name="details")
@click.argument("leerbedrijf_id")
@format_option()
@click.pass_context
def details(ctx: click.Context, leerbedrijf_id: str, as_json: bool) -> None:
    """GeefDetails: SBB's detailgegevens of one leerbedrijf, erkenningen included."""
    code = leerbedrijf_id.strip()
    if not _SBB_CODE.match(code):
        raise click.BadParameter(f"{leerbedrijf_id!r} is not an SBB code (nine digits)", param_hint="LEERBEDRIJF_ID")
    answer = dict(_ask(ctx, "GeefDetails", {"CodeLeerbedrijf": code})["GeefDetailsResult"])
    answer.pop("Signaalcode", None)
    answer.pop("Signaaltekst", None)
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False, default=str))
        return
    erkenningen = _as_list((answer.pop("Erkenningen", None) or {}).get("Erkenning"))
    contact = answer.pop("Contactpersoon", None)
    for name in ("CodeLeerbedrijf", "Naam", "KvkNummer", "Branche", "Telefoonnummer", "Email", "WebsiteUrl"):
        if answer.get(name) not in (None, ""):
            click.echo(f"{name + ':':<22}{answer[name]}")
    for name in ("Vestigingsadres", "Correspondentieadres"):
        if answer.get(name):
            click.echo(f"{name + ':':<22}{_address(answer[name])}")
    if contact:
        shown = ", ".join(str(contact[k]) for k in ("Naam", "Email", "Telefoonnummer") if contact.get(k))
        click.echo(f"{'Contactpersoon:':<22}{shown}")
    click.echo(f"Erkenningen ({len(erkenningen)}):")
    for e in erkenningen:
        period = f"{e.get('Ingangsdatum') or '?'} - {e.get('Einddatum') or ''}".rstrip(" -")
        click.echo(f"  {e.get('Crebonummer')} {e.get('Leerweg')}  {e.get('Omschrijving') or ''}  ({period})")


def _ask(ctx: click.Context, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    from . import ondemand

    obj = ctx.find_root().obj or {}
    plugin_ctx = ondemand.context_for(obj["project"], SYSTEM, obj["environment"])
    answer = ondemand.call(plugin_ctx, WSDL, operation, {"request": request}, SYSTEM_FIELDS)
    if f"{operation}Result" not in answer:
        raise ConfigError(f"{SYSTEM}: the answer to {operation} has no {operation}Result (is the url SBB's?)")
    return answer


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _address(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    street = " ".join(str(value[k]) for k in ("Straat", "Huisnummer") if value.get(k))
    town = " ".join(str(value[k]) for k in ("Postcode", "Plaats") if value.get(k))
    return ", ".join(p for p in (street, town) if p)
