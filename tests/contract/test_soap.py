"""The soap plugin's contract cases: the DUO ROD target (signed, 2W-be-S) and the SBB pull
source, each against its SOAP stand-in on 127.0.0.1."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest

from plugins.soap import plugin
from plugins.soap.spec import SoapSource, SoapTarget
from runtime.plugin import Item, PluginContext
from sandbox.runner import Sandbox, load_catalog
from sandbox.soap.pki import ensure_sandbox_pki
from sandbox.standin import Fault

from .framework import SourceContract, SourceHarness, TargetContract, TargetHarness

ROOT = Path(__file__).resolve().parents[2]


class _SoapPeer:
    name: str

    def __enter__(self):
        key, _ = ensure_sandbox_pki(ROOT)
        self.key_text = key.read_text()
        self.box = Sandbox(ROOT, names=[self.name], free_ports=True, include_services=False).start()
        system = load_catalog(ROOT).systems[self.name]
        self.ctx = PluginContext(
            environment="sandbox", project_root=ROOT, system_name=self.name,
            system=self.box.context(self.name).settings.model_copy(update={"url": self.box.url(self.name)}),
            options={"profile": system.profile, "sender_oin": system.sender_oin, "batch_size": getattr(self, "batch_size", 500)},
        )
        return self

    def __exit__(self, *exc):
        self.box.stop()

    @property
    def standin(self):
        return self.box.context(self.name)

    @contextlib.contextmanager
    def transient_failure(self):
        self.standin.faults.add(Fault(mode="fault", code="Server.DK0051", times=-1))
        try:
            yield
        finally:
            self.standin.faults.clear()

    def secrets(self) -> list[str]:
        # a line from the middle of the signing key: it must never show in output
        lines = [line for line in self.key_text.splitlines() if not line.startswith("-----")]
        return [lines[len(lines) // 2]]


class RodTargetHarness(_SoapPeer, TargetHarness):
    name = "duo-rod"

    def make_target(self):
        spec = SoapTarget(type="soap", wsdl="contracts/duo-rod/KOPPEL_DUO_MBO_ROD_Aanleveren_V1.wsdl",
                          operation="aanleveren_diploma", reference="identificatiecodeBedrijfsdocument")
        return plugin.create_target(spec, self.ctx)

    def _item(self, key: str, opleidingcode: str = "25998") -> Item:
        # a complete level-4 diploma: DUO refuses one without its generic exam parts and a keuzedeel
        payload = {"persoon": {"burgerservicenummer": "111222333"}, "brin": "25LX", "inschrijvingvolgnummer": key,
                   "resultaatvolgnummer": "1", "opleidingcode": opleidingcode, "datumResultaat": "2026-07-01",
                   "onderwijsaanbieder": "110A133",
                   "generiekExamenonderdeel": [
                       {"resultaatvolgnummer": f"{key}-{code}", "codeGeneriekExamenonderdeel": code,
                        "datumResultaat": "2026-05-12", "eindcijfer": 7} for code in ("NL", "REK", "EN")],
                   "keuzedeel": [{"resultaatvolgnummer": f"{key}-K0123", "codeKeuzedeel": "K0123",
                                  "datumResultaat": "2026-03-01", "resultaat": "Behaald"}]}
        return Item(key=key, source_key=key, payload=payload)

    def items(self, count: int) -> list[Item]:
        self._n = getattr(self, "_n", 0) + count
        return [self._item(f"D{self._n}-{i}") for i in range(count)]

    def rejected_item(self) -> Item:
        return self._item("D-bad", opleidingcode="ABCDE")  # not a crebo: DUO's XSD says Client.DK0004

    def delivered_keys(self) -> list[str]:
        return [r["body"]["inschrijvingvolgnummer"] for r in self.standin.received.items if r["kind"] == "accepted"]

    def reset(self) -> None:
        self.standin.faults.clear()
        self.standin.received.clear()


class SbbSourceHarness(_SoapPeer, SourceHarness):
    name = "sbb"
    batch_size = 4
    resumable = False  # SBB has no change feed: every run reads the whole register

    def _control(self) -> str:
        return self.box.url("sbb").rstrip("/") + "/_sandbox/leerbedrijven"

    def make_source(self):
        spec = SoapSource(type="soap", wsdl="contracts/sbb/KOPPEL_SBB_Leerbedrijven_V1.wsdl", operation="Zoeken",
                          request={"request": {"AantalResultatenPerPagina": 5, "Pagina": 1}},
                          records="ZoekenResult.Resultaten.Resultaat", key="CodeLeerbedrijf",
                          system_fields={"request.Licentie": "licentie"})  # SBB's licence, as on interface 8
        return plugin.create_source(spec, self.ctx)

    def seed(self, count: int) -> list[str]:
        return httpx.post(self._control(), json={"count": count}).json()["added"]

    def reset(self) -> None:
        self.standin.faults.clear()
        httpx.delete(self._control()).raise_for_status()


class TestSoapRodTarget(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with RodTargetHarness() as harness:
            yield harness


class TestSoapSbbSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with SbbSourceHarness() as harness:
            yield harness
