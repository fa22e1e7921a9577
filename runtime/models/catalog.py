"""catalog.yaml: the college's overview of interfaces and the systems they connect."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from runtime.console.settings import ConsoleEnvironment
from runtime.models.auth import InboundAuth, OutboundAuth
from runtime.models.common import TLS, Model
from runtime.models.state import StateSettings

Environment = Literal["sandbox", "acceptatie", "productie"]
ENVIRONMENTS: tuple[str, ...] = ("sandbox", "acceptatie", "productie")


class CatalogRow(Model):
    """One row of the overview, written as the college wrote it (Dutch)."""

    id: int = Field(ge=0, description="The interface's number: the overview's 0 to 27, and any new one after them.")
    from_: str = Field(alias="from", description="'Van' as in the overview.")
    to: str = Field(description="'Naar' as in the overview.")
    objects: list[str] = Field(description="'Objecten', one line of the overview per item.")
    type: str = Field(description="'Type' as in the overview: '(near) realtime', 'Batch', 'n.b.' or empty.")
    remark: str | None = Field(None, description="'Opmerking' as in the overview.")
    standard: bool = Field(False, description="The overview calls it a 'Gestandaardiseerde koppeling'.")
    link: str | None = Field(None, description="Where the standard or the vendor documents it.")
    source_systems: list[str] = Field(min_length=1, description="Systems (keys of `systems`) data comes from.")
    target_systems: list[str] = Field(min_length=1, description="Systems data goes to.")
    file: str = Field(pattern=r"^interfaces/\d{2,}-[a-z0-9-]+\.yaml$", description="The interface definition.")


class SystemEnvironment(Model):
    """Connection settings of one system in one environment. Secrets are references only."""

    url: str | None = Field(None, description="Base URL (REST) or endpoint (SOAP).")
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    dsn: str | None = Field(
        None,
        description="SQLAlchemy URL of a database. Write a password as ${env:NAME}, never in clear.",
    )
    auth: OutboundAuth | None = Field(None, description="How Koppel authenticates to the system.")
    inbound_auth: InboundAuth | None = Field(
        None, description="How the system authenticates when it calls Koppel (webhooks, SCIM)."
    )
    tls: TLS | None = None
    oin: str | None = Field(None, pattern=r"^[0-9A-Z]{20}$", description="The system's OIN (Edukoppeling).")
    known_hosts: str | None = Field(None, description="known_hosts file for SFTP host-key checking.")
    timeout: float = Field(30.0, gt=0, description="Seconds before a call counts as timed out.")
    rate_limit: float | None = Field(None, gt=0, description="Maximum calls per second.")
    options: dict[str, Any] = Field(default_factory=dict, description="Protocol-specific settings.")

    @field_validator("dsn")
    @classmethod
    def _no_password_in_dsn(cls, value: str | None) -> str | None:
        # A DSN with user:password@ must take the password from a reference.
        if value and "@" in value and "://" in value:
            userinfo = value.split("://", 1)[1].split("@", 1)[0]
            if ":" in userinfo and "${" not in userinfo:
                raise ValueError("the DSN holds a password; write it as ${env:NAME}")
        return value


class BsnBasis(Model):
    """Why a system may receive the BSN (art. 46 UAVG: only where a law prescribes its use)."""

    law: str = Field(min_length=1, description="The law or regulation, e.g. 'Leerplichtwet 1969, art. 21a'.")
    carries: Literal["bsn", "hpgn"] = Field(
        "bsn",
        description="What the system may receive: the BSN (and onderwijsnummer) itself, or only a hash "
        "of it (hpgn: Kennisnet's ECK-iD chain).",
    )


class System(Model):
    name: str = Field(description="The system's name as the college uses it.")
    description: str | None = None
    vendor: str | None = None
    protocol: str | None = Field(None, description="How Koppel talks to it: rest, soap, sftp, db, webhook.")
    profile: str | None = Field(None, description="Transport profile, e.g. edukoppeling-2W-be-S.")
    sender_oin: str | None = Field(None, pattern=r"^[0-9A-Z]{20}$", description="Our own OIN towards this system.")
    bsn_legal_basis: BsnBasis | None = Field(
        None,
        description="The legal basis for sending this system the BSN or onderwijsnummer. Without it, "
        "`koppel validate` warns about every replication or mapping to the system that carries a "
        "column or field named like one.",
    )
    environments: dict[Environment, SystemEnvironment] = Field(
        description="Connection settings per environment: sandbox, acceptatie, productie."
    )

    @field_validator("environments")
    @classmethod
    def _all_environments(cls, value: dict, info: ValidationInfo) -> dict:
        missing = [e for e in ENVIRONMENTS if e not in value]
        if missing:
            raise ValueError(f"settings missing for environment(s): {', '.join(missing)}")
        profile = str(info.data.get("profile") or "").upper()
        if profile.endswith(("-S", "-SE")):
            # a signed profile signs both ways: the answers are trusted only when they verify
            # against certificates the college chose, per environment (never a default)
            untrusted = [e for e in ENVIRONMENTS if not value[e].options.get("trust_store")]
            if untrusted:
                raise ValueError(f"profile {info.data['profile']} signs its answers: set options.trust_store (PEM "
                                 f"certificate(s) they are signed with) for environment(s): {', '.join(untrusted)}")
        return value


class Catalog(Model):
    version: Literal[1] = 1
    college: str
    source: str = Field(description="Where the overview comes from.")
    interfaces: list[CatalogRow]
    systems: dict[str, System]
    console: dict[Environment, ConsoleEnvironment] | None = Field(
        None, description="How operators sign in to the console (/ui), per environment (runtime/console/settings.py).")
    state: StateSettings = Field(
        default_factory=StateSettings,
        description="Koppel's own state: data keys per environment, retention defaults (runtime/models/state.py).")

    def row(self, interface_id: int) -> CatalogRow | None:
        return next((r for r in self.interfaces if r.id == interface_id), None)

    def secret_references(self) -> list[str]:
        return [v for v in _walk_strings(self.model_dump()) if v.startswith("${")]


def _walk_strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_strings(v)
