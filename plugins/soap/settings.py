"""What a SOAP call needs to know about the system it talks to, taken from the plugin context.

The engine puts the System's ``profile`` and ``sender_oin`` in ``ctx.options``; when it did not
(a test, a tool), they are read from the project's catalog.yaml. The rest comes from the
system's settings for the chosen environment (``ctx.system``): ``url`` (overrides the WSDL's
address), ``oin`` (the receiver), ``tls``, ``timeout`` and ``options``:

    signing_key       secret reference to the PEM private key that signs (2W-be-S)
    signing_cert      path to the PEM certificate that goes into the BinarySecurityToken
    trust_store       path to the PEM certificate(s) the service signs its answers with (2W-be-S:
                      required; an answer not signed by one of them is refused, see trust.py)
    messageid_form    urn (default: urn:uuid:<uuid>) or bare (<uuid>)
    wsa_to            the wsa:To address to use instead of <url>?oin=<oin>
    max_response_bytes  refuse larger answers (default 10 MB)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime import paths, secrets
from runtime.errors import ConfigError
from runtime.plugin import PluginContext

from . import edukoppeling, xmlsafe


@dataclass
class SoapSettings:
    system: str
    endpoint: str | None
    profile: str | None
    sender_oin: str | None
    receiver_oin: str | None
    timeout: float
    options: dict[str, Any]
    tls: Any
    project_root: Path

    @property
    def edukoppeling(self) -> bool:
        return bool(self.profile and self.profile.lower().startswith("edukoppeling"))

    @property
    def signed(self) -> bool:
        return bool(self.profile and self.profile.upper().rsplit("-", 1)[-1] in ("S", "SE"))

    @property
    def messageid_form(self) -> str:
        return str(self.options.get("messageid_form", "urn"))

    @property
    def max_response_bytes(self) -> int:
        return int(self.options.get("max_response_bytes", xmlsafe.DEFAULT_MAX_BYTES))

    def wsa_to(self, endpoint: str) -> str:
        if self.options.get("wsa_to"):
            return str(self.options["wsa_to"])
        return edukoppeling.with_oin(endpoint, self.receiver_oin) if self.receiver_oin else endpoint

    def trust_store(self):
        from .trust import TrustStore

        return TrustStore.load(self.system, self.options.get("trust_store"), self.project_root)

    def signing_material(self) -> tuple[bytes, bytes]:
        key_ref = self.options.get("signing_key")
        cert_path = self.options.get("signing_cert")
        if not key_ref or not cert_path:
            raise ConfigError(
                f"system {self.system}: profile {self.profile} signs messages; "
                "set options.signing_key (a secret reference) and options.signing_cert"
            )
        key = secrets.resolve(str(key_ref), base=self.project_root).encode("ascii") + b"\n"
        cert_file = paths.expand(str(cert_path), self.project_root)
        try:
            cert = cert_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"system {self.system}: cannot read signing_cert {cert_path} ({exc.strerror})") from None
        return key, cert


def from_context(ctx: PluginContext) -> SoapSettings:
    system = ctx.system
    profile = ctx.options.get("profile")
    sender = ctx.options.get("sender_oin")
    if ctx.system_name and (profile is None or sender is None):
        described = catalog_system(ctx.project_root, ctx.system_name)
        profile = profile if profile is not None else described.get("profile")
        sender = sender if sender is not None else described.get("sender_oin")
    if profile and str(profile).lower().startswith("edukoppeling") and not sender:
        raise ConfigError(f"system {ctx.system_name}: Edukoppeling needs sender_oin (our own OIN) in catalog.yaml")
    return SoapSettings(
        system=ctx.system_name or "soap",
        endpoint=system.url if system else None,
        profile=profile,
        sender_oin=sender,
        receiver_oin=system.oin if system else None,
        timeout=system.timeout if system else 30.0,
        options=dict(system.options) if system else {},
        tls=system.tls if system else None,
        project_root=ctx.project_root,
    )


def catalog_system(root: Path, name: str) -> dict[str, Any]:
    """The system's entry in the project's catalog.yaml as plain data ({} when absent or unreadable)."""
    from runtime.yamlsource import YamlProblem, load_file

    path = root / "catalog.yaml"
    if not path.exists():
        return {}
    try:  # the bounded reader: a broken catalog is validate's to report, not a hang here
        catalog = load_file(path, "catalog.yaml").data or {}
    except YamlProblem:
        return {}
    return ((catalog.get("systems") or {}) if isinstance(catalog, dict) else {}).get(name) or {}
