"""SBB stand-in: erkende leerbedrijven over SOAP (interface 8), kwalificatiestructuur as CSV (9).

Contract: the project's own ``contracts/sbb`` (SBB publishes none), plain SOAP 1.1 without
Edukoppeling. ``Zoeken`` pages through the register (``AantalResultatenPerPagina`` at most 25,
``Pagina`` from 1; filters ``CodeLeerbedrijf``, ``LeerbedrijfNaam``, ``Crebonummer``, ``Leerweg``)
and answers ``AantalResultatenTotaal`` and ``Resultaten/Resultaat`` with 9-digit SBB codes and
erkenningen per crebo. ``GeefDetails`` answers one company's details. The register is generated
deterministically from the SIS seed's catalogue (same crebo codes as the synthetic college).
``/_sandbox/leerbedrijven`` (tests): DELETE empties the register, POST {"count": n} adds n
companies and answers their codes, POST {"reset": true} restores the generated register.

``GET /kwalificatiestructuur/crebo.csv``: the crebo list, UTF-8, ``;``-separated, with a header:
``Crebonummer;Kwalificatie;Niveau;Dossiercode;Dossier;Sectorkamer;Prijsfactor;Soort opleiding;
Geldig vanaf;Geldig tot`` (the columns of SBB's list; dates ISO 8601, empty = open).
"""

from __future__ import annotations

import csv
import io
import random
from functools import lru_cache
from urllib.parse import urlparse

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.standin import StandinContext

from .base import SoapFault, SoapStandin, build, own_contract, text

NAME = "KOPPEL_SBB_Leerbedrijven_V1"
NS = f"http://koppel.standin/schema/{NAME}"
REGISTER_SEED = 8
REGISTER_SIZE = 60


@lru_cache(maxsize=1)
def register() -> list[dict]:
    """The leerbedrijven SBB knows, with their erkenningen (deterministic)."""
    from runtime.sis.seed import catalogue, dutch

    rows, recognitions, _ = catalogue.companies(
        random.Random(REGISTER_SEED), REGISTER_SIZE, catalogue.programs(), dutch.PLACES, set()
    )
    names = {q[0]: q[1] for q in catalogue.qualification_rows()}
    by_code: dict[str, list[dict]] = {}
    for code, crebo, leerweg, start, end, _status in recognitions:
        by_code.setdefault(code, []).append(
            {"Crebonummer": crebo, "Omschrijving": names.get(crebo), "Leerweg": leerweg, "Ingangsdatum": start, "Einddatum": end}
        )
    companies = []
    for code, name, kvk, street, number, postcode, city, phone, email, website, sector in rows:
        companies.append(
            {
                "CodeLeerbedrijf": code,
                "Naam": name,
                "KvkNummer": kvk,
                "Vestigingsadres": {"Straat": street, "Huisnummer": number, "Postcode": postcode, "Plaats": city, "Land": "NL"},
                "Telefoonnummer": phone,
                "Email": email,
                "WebsiteUrl": website,
                "Branche": sector,
                "Erkenningen": by_code.get(code, []),
            }
        )
    return sorted(companies, key=lambda c: c["CodeLeerbedrijf"])


def crebo_csv() -> str:
    from runtime.sis.seed import catalogue

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Crebonummer", "Kwalificatie", "Niveau", "Dossiercode", "Dossier", "Sectorkamer",
                     "Prijsfactor", "Soort opleiding", "Geldig vanaf", "Geldig tot"])
    for crebo, name, level, dossier, dossier_name, sector, factor, start, end in catalogue.qualification_rows():
        writer.writerow([crebo, name, level, dossier, dossier_name, sector, str(factor).replace(".", ","),
                         "Kwalificatie", start, end or ""])
    return out.getvalue()


def create_app(ctx: StandinContext):
    # this stand-in's own copy of the register, so tests can empty it or add companies
    companies: list[dict] = list(register())

    def zoeken(body, exchange):
        size = min(int(text(body, "request/AantalResultatenPerPagina") or 25), 25)
        page = max(int(text(body, "request/Pagina") or 1), 1)
        code, name = text(body, "request/CodeLeerbedrijf"), text(body, "request/LeerbedrijfNaam")
        crebo, leerweg = text(body, "request/Crebonummer"), text(body, "request/Leerweg")
        hits = [
            c for c in companies
            if (not code or c["CodeLeerbedrijf"] == code)
            and (not name or name.lower() in c["Naam"].lower())
            and (not crebo or any(e["Crebonummer"] == crebo for e in c["Erkenningen"]))
            and (not leerweg or any(e["Leerweg"] == leerweg for e in c["Erkenningen"]))
        ]
        chunk = hits[(page - 1) * size : page * size]
        return build(NS, "ZoekenResponse", {"ZoekenResult": {
            "Signaalcode": 0,
            "AantalResultatenTotaal": len(hits),
            "Resultaten": {"Resultaat": [
                {"CodeLeerbedrijf": c["CodeLeerbedrijf"], "LeerbedrijfNaam": c["Naam"],
                 "Vestigingsadres": c["Vestigingsadres"], "Erkenning": c["Erkenningen"]}
                for c in chunk
            ]},
        }})

    def geef_details(body, exchange):
        code = text(body, "request/CodeLeerbedrijf")
        company = next((c for c in companies if c["CodeLeerbedrijf"] == code), None)
        if company is None:
            raise SoapFault("Client.SBB0404", "leerbedrijf onbekend")
        details = {k: v for k, v in company.items() if k != "Erkenningen"}
        return build(NS, "GeefDetailsResponse", {"GeefDetailsResult": {
            "Signaalcode": 0, **details, "Erkenningen": {"Erkenning": company["Erkenningen"]},
        }})

    async def crebo_list(request):
        return Response(
            crebo_csv().encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="crebo.csv"'},
        )

    async def control(request):
        """DELETE: empty the register; POST {"count": n}: add n new companies; POST {"reset": true}."""
        if request.method == "DELETE":
            companies.clear()
            return JSONResponse({"count": 0})
        data = await request.json()
        if data.get("reset"):
            companies[:] = list(register())
            return JSONResponse({"count": len(companies)})
        added = new_companies(int(data.get("count", 1)), {c["CodeLeerbedrijf"] for c in companies})
        companies.extend(added)
        companies.sort(key=lambda c: c["CodeLeerbedrijf"])
        return JSONResponse({"added": [c["CodeLeerbedrijf"] for c in added]}, status_code=201)

    path = urlparse(ctx.settings.url).path or "/"
    standin = SoapStandin(
        ctx,
        wsdl_path=own_contract(ctx, f"sbb/{NAME}.wsdl"),
        path=path,
        handlers={"Zoeken": zoeken, "GeefDetails": geef_details},
        edukoppeling_checks=False,
        signed=False,
    )
    return standin.app([
        Route("/kwalificatiestructuur/crebo.csv", crebo_list, methods=["GET"]),
        Route("/_sandbox/leerbedrijven", control, methods=["POST", "DELETE"]),
    ])


def new_companies(count: int, taken: set[str]) -> list[dict]:
    """``count`` more companies with codes not in ``taken`` (for tests that add to the register)."""
    import copy

    rng = random.Random(len(taken) * 7919 + count)
    template = register()[0]
    added = []
    while len(added) < count:
        code = str(rng.randint(100_000_000, 999_999_999))
        if code in taken:
            continue
        taken.add(code)
        company = copy.deepcopy(template)
        company["CodeLeerbedrijf"], company["Naam"] = code, f"Leerbedrijf {code}"
        added.append(company)
    return added
