"""Constants and payloads shared by the soap plugin tests (the shapes the mappings produce)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.paths import specs_dir

ROOT = Path(__file__).resolve().parents[3]
SOAP_SYSTEMS = ["kennisnet", "duo-rod", "duo-verzuim", "duo-rio", "sbb"]
#: a fixed hPGN (the scrypt hash is the mapping library's job); the .NET reference's test vector
HPGN = "9735dfd2235eaeb5f0300886bcc99c82ffc1d6420c4e0bde8de7218def2135fa"
ECK_CHAIN = "http://purl.edustandaard.nl/begrippenkader/e7ec7d3c-c235-4513-bfb6-e54e66854795"
ECK_SECTOR = "http://purl.edustandaard.nl/begrippenkader/512e4729-03a4-43a2-95ba-758071d1b725"
RIO_WSDL = "${specs}/duo-rio/DUO_RIO_Beheren_OnderwijsOrganisatie_V4.wsdl"
ECK_WSDL = "${specs}/eckid-nummervoorziening/eckid.wsdl"
ROD_WSDL = "contracts/duo-rod/KOPPEL_DUO_MBO_ROD_Aanleveren_V1.wsdl"
VERZUIM_WSDL = "contracts/duo-verzuim/KOPPEL_DUO_Verzuimregister_V1.wsdl"
SBB_WSDL = "contracts/sbb/KOPPEL_SBB_Leerbedrijven_V1.wsdl"

requires_specs = pytest.mark.skipif(
    not specs_dir(ROOT).exists(),
    reason=f"the public contracts are not at {specs_dir(ROOT)} (set KOPPEL_SPECS_DIR); "
    "the stand-ins use the project's fallback contracts instead",
)


def rio_payload(code: str = "bd6cb46b-3f4e-49c2-a1f7-e24ae82b0672") -> dict:
    """What interface 17's mapping produces: one aangeboden MBO-opleiding with a cohort."""
    return {
        "aangebodenMboOpleiding": {
            "aangebodenOpleidingCode": code,
            "onderwijsaanbiedercode": "110A133",
            "onderwijslocatiecode": "107X215",
            "begindatum": "2026-08-01",
            "opleidingserkenningSleutel": {"opleidingsstelsel": "CREBO", "opleidingscode": "25998"},
            "aangebodenMboOpleidingPeriode": [{"begindatum": "2026-08-01", "eigenNaamAangebodenOpleiding": "Software developer"}],
            "aangebodenMboOpleidingCohort": [
                {
                    "cohortcode": "2026-BOL-SEP",
                    "cohortstatus": "O",
                    "beginAanmeldperiode": "2025-10-01",
                    "vastInstroommoment": {"instroommoment": "2026-09-01"},
                    "eindeAanmeldperiode": "2026-08-31",
                    "toestemmingVereistVoorAanmelding": "NEE",
                }
            ],
            "leertrajectMBO": "BOL",
            "mboNiveau": "MBO-4",
            "toelatingseisen": "NEE",
            "toegankelijkheid": "ALL",
        }
    }


def rod_inschrijving(volgnummer: str = "1") -> dict:
    """What interface 15's mapping produces for aanleveren_inschrijving (BSN is synthetic)."""
    return {
        "persoon": {"burgerservicenummer": "111222333", "geboortedatum": "2008-05-01", "geslacht": "V"},
        "brin": "25LX",
        "inschrijvingvolgnummer": volgnummer,
        "datumInschrijving": "2026-08-01",
        "inschrijvingsperiode": [
            {
                "datumBegin": "2026-08-01",
                "opleidingcode": "25998",
                "leertraject": "BOL",
                "niveau": "MBO-4",
                "indicatieBekostigbaar": True,
                "onderwijsaanbieder": "110A133",
                "onderwijslocatie": "107X215",
            }
        ],
    }
