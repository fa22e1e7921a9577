"""SBB stand-in: White Label 2.1 over SOAP (interface 8), as licensed.

Contract: the project's own ``contracts/sbb`` (SBB publishes none), plain SOAP 1.1 without
Edukoppeling. Every request carries the school's ``Licentie``: the value the catalog's sandbox
settings name in ``options.licentie`` (interface 8's ``system_fields``). A call without it, or with another,
is answered as SBB's Stagemarkt services answer it: an ordinary answer holding only
``Signaalcode`` 996 and ``Signaaltekst``, whatever the operation.

- ``Identificatie`` (naam + postcode, optionally huisnummer → leerbedrijven): a case-insensitive
  part of the name and the exact postcode (without its space); none found is Signaalcode 110.
- ``Verificatie`` (leerbedrijf + crebo + leerweg + startdatum → erkend?): ``Erkend`` true with
  the erkenning that covers the start date; an unknown leerbedrijf is Signaalcode 101, no
  erkenning for that crebo and leerweg 102, one that ended or has not begun on that date 103
  (``Erkend`` false). A verified agreement subscribes the leerbedrijf to the mutatieservice for
  this licence, with the school's ``Kenmerk``, crebo, leerweg and start date (SBB knows the
  school's BPV agreements; the stand-in learns them from the verifications).
- ``Mutaties`` (the mutatieservice): the changes of erkenning of the subscribed leerbedrijven after
  ``VanafVolgnummer``, oldest first, at most ``MaximumAantal`` (default 100), each echoing the
  subscription (``Kenmerk``, ``Startdatum``).
- ``GeefDetails`` and ``Zoeken`` as before (detailgegevens on demand; 25 a page).

The register is generated deterministically from the SIS seed's catalogue (same crebo codes as
the synthetic college) and, once at the first call, completed with the companies and erkenningen
of the project's SIS store when there is one: SBB and the synthetic college share one world, and
what the college did not seed (B3Net's random leerbedrijven) is unknown to SBB.
``options.register_from_sis: false`` keeps to the generated register (deterministic tests).
``/_sandbox/leerbedrijven`` (tests): DELETE empties the register, POST {"count": n} adds n
companies, POST {"reset": true} restores it, POST {"end": {"code", "crebo", "leerweg", "date"}}
ends an erkenning on that date and queues the mutation for its subscribers.

The kwalificatiestructuur lists (interface 9) are another host: ``sandbox/rest/sbb_lijsten.py``.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
from functools import lru_cache
from urllib.parse import urlparse

from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.standin import StandinContext

from .base import SoapFault, SoapStandin, build, own_contract, text
from .sbb_register import from_sis_store, generated

NAME = "KOPPEL_SBB_Leerbedrijven_V1"
NS = f"http://koppel.standin/schema/{NAME}"
NO_LICENCE = (996, "Geen geldige licentie: de aanroep bevat geen of een onbekende Licentie")
SIGNALS = {
    101: "Leerbedrijf onbekend bij SBB",
    102: "Leerbedrijf heeft geen erkenning voor deze opleiding en leerweg",
    103: "Erkenning is op de startdatum niet geldig (beeindigd of nog niet ingegaan)",
    110: "Geen leerbedrijf gevonden met deze naam en postcode",
}


@lru_cache(maxsize=1)
def register() -> list[dict]:
    """The generated part of the register (deterministic)."""
    return generated()


def licence_of(ctx: StandinContext) -> str:
    reference = (ctx.settings.options or {}).get("licentie")
    if not reference:
        raise SoapFault("Server.SBB0500", "the sandbox settings name no Licentie (options.licentie)")
    return ctx.secret(reference)


def create_app(ctx: StandinContext):
    # this stand-in's own copy of the register, so tests can empty it or add companies
    companies: list[dict] = copy.deepcopy(register())
    state = {"loaded": False, "mutations": [], "subscriptions": {}}
    lock = threading.Lock()

    def loaded() -> list[dict]:
        with lock:
            if not state["loaded"]:
                state["loaded"] = True
                if not (ctx.settings.options or {}).get("register_from_sis", True):
                    return companies
                known = {c["CodeLeerbedrijf"] for c in companies}
                companies.extend(c for c in from_sis_store(ctx.project_root) if c["CodeLeerbedrijf"] not in known)
                companies.sort(key=lambda c: c["CodeLeerbedrijf"])
        return companies

    def licensed(body, result: str):
        given = text(body, "request/Licentie")
        if given is None or given != licence_of(ctx):
            ctx.received.add("refused", {"signaalcode": NO_LICENCE[0], "operation": result.removesuffix("Result")})
            return signal(result, *NO_LICENCE)
        return None

    def signal(result: str, code: int, message: str | None = None):
        return build(NS, result.replace("Result", "Response"), {result: {
            "Signaalcode": code, "Signaaltekst": message or SIGNALS[code]}})

    def company(code: str | None) -> dict | None:
        return next((c for c in loaded() if c["CodeLeerbedrijf"] == code), None)

    def identificatie(body, exchange):
        refused = licensed(body, "IdentificatieResult")
        if refused is not None:
            return refused
        name = (text(body, "request/LeerbedrijfNaam") or "").lower()
        postcode = (text(body, "request/Postcode") or "").replace(" ", "").upper()
        number = text(body, "request/Huisnummer")
        hits = [c for c in loaded() if name in c["Naam"].lower()
                and c["Vestigingsadres"]["Postcode"].replace(" ", "").upper() == postcode
                and (not number or c["Vestigingsadres"]["Huisnummer"] == number)]
        if not hits:
            return signal("IdentificatieResult", 110)
        return build(NS, "IdentificatieResponse", {"IdentificatieResult": {"Signaalcode": 0, "Leerbedrijf": [
            {"CodeLeerbedrijf": c["CodeLeerbedrijf"], "LeerbedrijfNaam": c["Naam"], "Vestigingsadres": c["Vestigingsadres"]}
            for c in hits]}})

    def verificatie(body, exchange):
        refused = licensed(body, "VerificatieResult")
        if refused is not None:
            return refused
        code = text(body, "request/CodeLeerbedrijf")
        crebo, leerweg = text(body, "request/Crebonummer"), text(body, "request/Leerweg")
        start = dt.date.fromisoformat(text(body, "request/Startdatum")[:10])
        found = company(code)
        if found is None:
            return signal("VerificatieResult", 101)
        matching = [e for e in found["Erkenningen"] if e["Crebonummer"] == crebo and e["Leerweg"] == leerweg]
        if not matching:
            return signal("VerificatieResult", 102)
        valid = next((e for e in matching if _covers(e, start)), None)
        if valid is None:
            return signal("VerificatieResult", 103)
        with lock:
            state["subscriptions"][(code, crebo, leerweg, text(body, "request/Kenmerk"))] = start.isoformat()
        return build(NS, "VerificatieResponse", {"VerificatieResult": {
            "Signaalcode": 0, "Erkend": True, "CodeLeerbedrijf": code, "LeerbedrijfNaam": found["Naam"],
            "Erkenning": valid}})

    def mutaties(body, exchange):
        refused = licensed(body, "MutatiesResult")
        if refused is not None:
            return refused
        after = int(text(body, "request/VanafVolgnummer") or 0)
        most = int(text(body, "request/MaximumAantal") or 100)
        with lock:
            chunk = [m for m in state["mutations"] if m["Volgnummer"] > after][:most]
        return build(NS, "MutatiesResponse", {"MutatiesResult": {"Signaalcode": 0, "Mutatie": chunk}})

    def geef_details(body, exchange):
        refused = licensed(body, "GeefDetailsResult")
        if refused is not None:
            return refused
        found = company(text(body, "request/CodeLeerbedrijf"))
        if found is None:
            return signal("GeefDetailsResult", 101)
        details = {k: v for k, v in found.items() if k != "Erkenningen"}
        return build(NS, "GeefDetailsResponse", {"GeefDetailsResult": {
            "Signaalcode": 0, **details, "Erkenningen": {"Erkenning": found["Erkenningen"]},
        }})

    def zoeken(body, exchange):
        refused = licensed(body, "ZoekenResult")
        if refused is not None:
            return refused
        size = min(int(text(body, "request/AantalResultatenPerPagina") or 25), 25)
        page = max(int(text(body, "request/Pagina") or 1), 1)
        code, name = text(body, "request/CodeLeerbedrijf"), text(body, "request/LeerbedrijfNaam")
        crebo, leerweg = text(body, "request/Crebonummer"), text(body, "request/Leerweg")
        hits = [
            c for c in loaded()
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

    def end_erkenning(order: dict) -> dict:
        found = company(order.get("code"))
        if found is None:
            return {"error": "unknown leerbedrijf"}
        day = str(order.get("date") or dt.date.today().isoformat())
        ended = [e for e in found["Erkenningen"] if e["Crebonummer"] == order.get("crebo")
                 and e["Leerweg"] == order.get("leerweg")]
        queued = []
        with lock:
            for erkenning in ended:
                erkenning["Einddatum"] = day
                for (code, crebo, leerweg, kenmerk), start in state["subscriptions"].items():
                    if (code, crebo, leerweg) == (found["CodeLeerbedrijf"], erkenning["Crebonummer"], erkenning["Leerweg"]):
                        queued.append(_mutation(len(state["mutations"]) + 1, "erkenning_beeindigd", code, erkenning,
                                                start, kenmerk))
                        state["mutations"].append(queued[-1])
        return {"ended": len(ended), "mutations": [m["Volgnummer"] for m in queued]}

    async def control(request):
        """DELETE: empty the register; POST {"count": n} | {"reset": true} | {"end": {...}}."""
        if request.method == "DELETE":
            loaded()
            companies.clear()
            return JSONResponse({"count": 0})
        data = await request.json()
        if data.get("reset"):
            companies[:] = copy.deepcopy(register())
            state["loaded"] = False
            return JSONResponse({"count": len(loaded())})
        if data.get("end"):
            answer = end_erkenning(data["end"])
            return JSONResponse(answer, status_code=404 if "error" in answer else 200)
        added = new_companies(int(data.get("count", 1)), {c["CodeLeerbedrijf"] for c in loaded()})
        companies.extend(added)
        companies.sort(key=lambda c: c["CodeLeerbedrijf"])
        return JSONResponse({"added": [c["CodeLeerbedrijf"] for c in added]}, status_code=201)

    path = urlparse(ctx.settings.url).path or "/"
    standin = SoapStandin(
        ctx,
        wsdl_path=own_contract(ctx, f"sbb/{NAME}.wsdl"),
        path=path,
        handlers={"Zoeken": zoeken, "GeefDetails": geef_details, "Identificatie": identificatie,
                  "Verificatie": verificatie, "Mutaties": mutaties},
        edukoppeling_checks=False,
        signed=False,
    )
    return standin.app([Route("/_sandbox/leerbedrijven", control, methods=["POST", "DELETE"])])


def _covers(erkenning: dict, day: dt.date) -> bool:
    start = erkenning.get("Ingangsdatum")
    end = erkenning.get("Einddatum")
    return (not start or dt.date.fromisoformat(str(start)) <= day) and (not end or day <= dt.date.fromisoformat(str(end)))


def _mutation(number: int, kind: str, code: str, erkenning: dict, start: str, kenmerk: str | None) -> dict:
    return {"Volgnummer": number, "Mutatiedatum": dt.date.today().isoformat(), "Soort": kind, "CodeLeerbedrijf": code,
            "Crebonummer": erkenning["Crebonummer"], "Leerweg": erkenning["Leerweg"], "Startdatum": start,
            "Kenmerk": kenmerk, "Erkenning": erkenning}


def new_companies(count: int, taken: set[str]) -> list[dict]:
    """``count`` more companies with codes not in ``taken`` (for tests that add to the register)."""
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
