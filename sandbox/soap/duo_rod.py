"""DUO ROD (BRON MBO) stand-in, interface 15. Profile 2W-be-S: addressing and signature checked.

Contract: the project's own ``contracts/duo-rod`` (DUO's MBO contract is not public). Operations
``aanleveren_inschrijving`` (with its periods), ``aanleveren_bpv``, ``aanleveren_diploma``,
``aanleveren_identificatie`` (a person without BSN and onderwijsnummer: the answer carries the
onderwijsnummer the stand-in assigns, the same one for the same school key, name and birth date)
and ``verwijderen_inschrijving`` / ``verwijderen_bpv`` / ``verwijderen_diploma``, which take back
what was delivered before under the same key (person, BRIN, inschrijvingvolgnummer and the BPV's
or diploma's own volgnummer).
Each accepted message gets an Ontvangstbevestiging with DUO's own document id (the target's
reference), ``referentieBedrijfsdocument`` = the school's id and ``ontvangstBevestiging`` J.
"reject" answers ``ontvangstBevestiging`` N with a signal (a functional refusal), unless a fault
``code`` is given, which is then sent as a SOAP fault.

What it refuses as DUO would (``ontvangstBevestiging`` N with a signal, so the record becomes a
dead letter that says why): a diploma without the generic exam parts its level requires, taking
them is a condition for every mbo diploma (mboraad.nl "Taal en rekenen"): Nederlands and rekenen
at every level, Engels as well at level 4; and a diploma of level 2 to 4 without a keuzedeel
(keuzedelen are a required part of those programmes); a verwijder-message of a key it never
accepted, or removed already (``D051``: DUO cannot remove what it does not hold). The level
comes from the crebo (the
seeded catalogue; an unknown crebo counts as level 2 or 3). DUO's signal codes are not public:
``D0xx`` are the stand-in's own.
"""

from __future__ import annotations

from urllib.parse import urlparse

from lxml import etree

from sandbox.standin import StandinContext

from .base import SoapStandin, build, own_contract, settings_profile_signed, text
from .duo_common import answer_header

NAME = "KOPPEL_DUO_MBO_ROD_Aanleveren_V1"
NS = f"http://koppel.standin/schema/{NAME}"
KINDS = ("inschrijving", "bpv", "diploma")
OPERATIONS = ("aanleveren_inschrijving", "aanleveren_bpv", "aanleveren_diploma", "aanleveren_identificatie",
              *(f"verwijderen_{kind}" for kind in KINDS))
#: onderwijsnummers the stand-in assigns: 9 digits from 190000000 up, apart from the seeded ones
#: (which start with 10), none passing the elfproef
FIRST_ONDERWIJSNUMMER = 190_000_000
SANDBOX_REFUSAL = [{"signaalcode": "R001", "signaalomschrijving": "gegevens afgekeurd (sandbox)"}]


def diploma_signals(body: etree._Element) -> list[dict]:
    """Why DUO would refuse this diploma: generic exam parts or keuzedelen it lacks."""
    from runtime.sis.seed import CREBOS

    level = CREBOS.get(text(body, "opleidingcode") or "", ("", 2))[1]
    parts = {(n.text or "").strip() for n in body.iter() if isinstance(n.tag, str)
             and etree.QName(n).localname == "codeGeneriekExamenonderdeel"}
    required = ["NL", "REK"] + (["EN"] if level == 4 else [])
    signals = [{"signaalcode": "D041", "signaalomschrijving": f"generiek examenonderdeel {code} ontbreekt bij een diploma niveau {level}"}
               for code in required if code not in parts]
    keuzedelen = [n for n in body.iter() if isinstance(n.tag, str) and etree.QName(n).localname == "keuzedeel"]
    if level >= 2 and not keuzedelen:
        signals.append({"signaalcode": "D042", "signaalomschrijving": f"geen keuzedeel bij een diploma niveau {level}"})
    return signals


def message_key(operation: str, body: etree._Element) -> tuple:
    """What DUO files a delivery under, and what a verwijder-message must name to take it back."""
    kind = operation.split("_", 1)[1]
    person = text(body, "persoon/burgerservicenummer") or text(body, "persoon/onderwijsnummer")
    own = {"bpv": text(body, "bpvVolgnummer"), "diploma": text(body, "resultaatvolgnummer")}.get(kind)
    return kind, text(body, "brin"), person, text(body, "inschrijvingvolgnummer"), own


def unknown_signal(key: tuple) -> list[dict]:
    kind, brin, _person, volgnummer, own = key
    what = f"{kind} {own} van inschrijving {volgnummer}" if own else f"inschrijving {volgnummer}"
    return [{"signaalcode": "D051",
             "signaalomschrijving": f"{what} (brin {brin}) is niet aangeleverd of al verwijderd; niets verwijderd"}]


def create_app(ctx: StandinContext):
    own_oin = getattr(ctx.settings, "oin", None)
    assigned: dict[tuple, str] = {}  # (school key, surname, birth date) → onderwijsnummer
    held: set[tuple] = set()  # message_key of every delivery DUO holds now

    def identify(body) -> tuple[list[dict], dict]:
        """DUO identifies on name and birth data; the same person asked twice gets one number."""
        person = (text(body, "kenmerkPersoonSchool"), (text(body, "achternaam") or "").strip().lower(),
                  text(body, "geboortedatum"))
        if person not in assigned:
            from runtime.redact import elfproef

            candidate = FIRST_ONDERWIJSNUMMER + len(assigned) * 2
            while elfproef(str(candidate)):  # an onderwijsnummer never passes for a BSN
                candidate += 1
            assigned[person] = str(candidate)
        return [], {"onderwijsnummer": assigned[person]}

    def acknowledge(operation: str, accepted: bool):
        def handler(body, exchange):
            signals, extra = ([] if accepted else SANDBOX_REFUSAL), {}
            if accepted and operation == "aanleveren_diploma":
                signals = diploma_signals(body)
            elif accepted and operation == "aanleveren_identificatie":
                signals, extra = identify(body)
            if accepted and operation.startswith("verwijderen_"):
                key = message_key(operation, body)
                signals = [] if key in held else unknown_signal(key)
                held.discard(key)
            elif accepted and not signals and operation != "aanleveren_identificatie":
                held.add(message_key(operation, body))
            content = {
                **answer_header(body, exchange, own_oin, echo_id=False),
                "referentieBedrijfsdocument": text(body, "identificatiecodeBedrijfsdocument"),
                "ontvangstBevestiging": "N" if signals else "J",
            }
            if signals:
                content["signaal"] = signals
            content.update(extra)
            return build(NS, f"{operation}_response", content)

        return handler

    def reject(body, exchange):
        return acknowledge(exchange.operation, False)(body, exchange)

    standin = SoapStandin(
        ctx,
        wsdl_path=own_contract(ctx, f"duo-rod/{NAME}.wsdl"),
        path=urlparse(ctx.settings.url).path or "/",
        handlers={op: acknowledge(op, True) for op in OPERATIONS},
        edukoppeling_checks=True,
        signed=settings_profile_signed(ctx, True),
        reject=reject,
    )
    return standin.app()
