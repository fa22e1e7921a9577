"""interfaces/NN-name.yaml: one interface of the overview, as Koppel runs it.

The ``source`` and ``targets`` fields are unions of the Spec models of the registered plugins,
discriminated by ``type``. The union is built from the registry (``interface_model``), so a
third-party plugin's spec validates and appears in the JSON Schema like a built-in one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, create_model, field_validator, model_validator

from runtime.models.common import Duration, Expression, Model
from runtime.models.state import Retention

AMSTERDAM = "Europe/Amsterdam"


def _check_cron(expression: str) -> None:
    """``cronexpr.check_cron``; in ``koppel validate`` its verdict is kept per expression with the
    files' parses (runtime/cli/validate_cache.py's Artifacts), so that validating a project whose
    expressions were seen before imports no APScheduler (and the asyncio it imports)."""
    from runtime import yamlsource

    store = yamlsource.artifacts
    if store is None:
        from runtime.cronexpr import check_cron

        check_cron(expression)
        return
    digest = hashlib.sha256(expression.encode("utf-8", "surrogatepass")).digest()
    version = _cron_version()
    kept = store.get("cron", version, digest)
    if isinstance(kept, tuple) and kept[:1] == ("ok",):
        return
    if isinstance(kept, tuple) and kept[:1] == ("error",):
        raise ValueError(kept[1])
    from runtime.cronexpr import check_cron

    try:
        check_cron(expression)
    except ValueError as exc:
        store.put("cron", version, digest, ("error", str(exc)))
        raise
    store.put("cron", version, digest, ("ok",))


@lru_cache(maxsize=1)
def _cron_version() -> str:
    """What a cron verdict depends on besides the expression: the parser's code and APScheduler's version."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    spec = find_spec("runtime.cronexpr")
    code = hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest() if spec and spec.origin else "?"
    try:
        scheduler = version("APScheduler")
    except PackageNotFoundError:  # pragma: no cover - a dependency of koppel
        scheduler = "?"
    return f"{code}/{scheduler}"


class CronTrigger(Model):
    """A schedule. Runs in Europe/Amsterdam by default, so 02:00 stays 02:00 across DST."""

    type: Literal["cron"]
    cron: str = Field(
        pattern=r"^\s*\S+(\s+\S+){4}\s*$",
        description="Five-field cron expression: minute hour day month weekday.",
    )
    timezone: str = AMSTERDAM
    misfire_grace: Duration = Field(600.0, description="A run missed by less than this still runs.")

    @field_validator("cron", mode="before")
    @classmethod
    def _valid_cron(cls, value: object) -> object:
        # before the pattern check, so the user reads why rather than a regular expression
        if isinstance(value, str):
            _check_cron(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone '{value}'") from exc
        return value


class IntervalTrigger(Model):
    """Every so often, e.g. ``every: 5m``. Ticks count from ``start`` (default: the epoch in
    Europe/Amsterdam), so every daemon computes the same ticks and each tick runs once."""

    type: Literal["interval"]
    every: Duration = Field(gt=0)
    start: datetime | None = Field(
        None, description="Where the ticks count from, e.g. 2026-09-01T00:05:00 (Europe/Amsterdam unless "
        "it names a zone); default the epoch, so `every: 1h` runs on the hour.")


class OutboxTrigger(Model):
    """Realtime: a change of one of these SIS objects (from the outbox) starts a run."""

    type: Literal["outbox"]
    objects: list[str] = Field(min_length=1, description="SIS object types whose changes count.")
    #: on SQLite (no NOTIFY) the outbox is polled this often
    poll: Duration = Field(1.0, gt=0)


class PollTrigger(Model):
    """Near realtime for systems without events: read the source's API this often."""

    type: Literal["poll"]
    every: Duration = Field(gt=0)


class WebhookTrigger(Model):
    """Inbound calls, stored durably before they are answered; the source is a ``webhook``."""

    type: Literal["webhook"]


class ManualTrigger(Model):
    """Only on ``koppel run``: for interfaces that are planned or run on request."""

    type: Literal["manual"]


Trigger = Annotated[
    Union[CronTrigger, IntervalTrigger, OutboxTrigger, PollTrigger, WebhookTrigger, ManualTrigger],
    Field(discriminator="type"),
]


class RetryPolicy(Model):
    max_attempts: int = Field(8, ge=1, le=100, description="Attempts before a record is a dead letter.")
    initial_delay: Duration = Field(1.0, description="Delay before the first retry.")
    max_delay: Duration = Field(300.0, description="The backoff never waits longer than this.")
    multiplier: float = Field(2.0, ge=1.0)
    jitter: bool = Field(True, description="Randomise delays so retries do not arrive in waves.")


class DeliveryPolicy(Model):
    idempotency_key: Expression | None = Field(
        None,
        description="JMESPath over the source record giving a stable key per record; "
        "default: the source's own record key.",
    )
    skip_unchanged: bool = Field(
        True, description="Do not send a record again when the same key was delivered with the same payload."
    )
    ledger: bool = Field(
        True,
        description="Keep a delivery row per record. Bulk replication turns it off and relies on the "
        "cursor and the target's upsert.",
    )
    batch_size: int = Field(500, ge=1, le=100_000)
    commit_every: int = Field(
        1000, ge=1, le=100_000,
        description="Outcomes are made durable in steps within a batch: a step closes after this many "
        "records or after commit_interval, whichever comes first, and a crash sends at most one step's "
        "records again. 1000 (measured, bench/bench_engine.py): a step's commit is then a few percent of "
        "a fast target's work (at 50 it was most of it); a slow target's steps are bounded by the "
        "interval instead. Lower it where a re-send of that many records is costly.",
    )
    commit_interval: Duration = Field(
        1.0, description="A step closes at least this often while a batch is delivered, and each write to "
        "the target holds no more records than fit in what is left of it at the target's pace: about "
        "this much work is sent again after a crash.",
    )
    retries: RetryPolicy = Field(default_factory=RetryPolicy)
    retention: Retention | None = Field(
        None, description="How long this interface's stored rows are kept; unset fields come from the "
        "catalog's state.retention (runtime/models/state.py).")


class WriteBack(Model):
    """Write part of a target's answer back into the SIS (an ECK-iD, a transaction id)."""

    object: str = Field(description="The SIS object to update, e.g. student.")
    mapping: str = Field(description="Mapping from {record, response} to the SIS fields.")


class SpecBase(Model):
    """Fields every source and target spec has."""

    system: str | None = Field(None, description="The system in catalog.yaml this talks to.")


class TargetSpecBase(SpecBase):
    mapping: str | None = Field(None, description="Mapping for this target; default: the interface's.")
    writeback: WriteBack | None = None


class CallbackBase(Model):
    """What a system tells Koppel later about what the interface delivered to it (Signhost's
    postbacks: a document was signed). Received like a webhook on Koppel's server, stored in the
    durable inbox before the 2xx, then mapped and written to the SIS by the interface's own runs:
    a ``webhook`` run (the server wakes it) drains only the callbacks; a scheduled or manual run
    reads the main source first, then drains the callbacks waiting."""

    name: str | None = Field(
        None, pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Names the callback in runs, cursors and dead letters; default: the source's system.",
    )
    mapping: str = Field(description="Mapping from the received body to the SIS record.")


class InterfaceBase(Model):
    id: int = Field(ge=0, description="The interface's number in catalog.yaml (the overview's 0 to 27, and any new one).")
    name: str
    description: str | None = None
    type: Literal["batch", "realtime"] = Field(description="As decided for this interface.")
    status: Literal["active", "planned"] = Field(
        "active", description="A planned interface validates and dry-runs but is never scheduled."
    )
    objects: list[str] = Field(min_length=1, description="The business objects it moves.")
    trigger: Trigger
    mapping: str | None = Field(
        None, description="Mapping file in mappings/ (without .yaml); none for pure replication."
    )
    delivery: DeliveryPolicy = Field(default_factory=DeliveryPolicy)


def _union(specs: list[type], tagged: bool = False) -> object:
    """``tagged``: a discriminated union even of one spec, so that a model over a ``subset`` of
    the plugins reports an error at the same place (``source.db.tables``) as the whole one."""
    if len(specs) == 1 and not tagged:
        return specs[0]
    return Annotated[Union[tuple(specs)], Field(discriminator="type")]


class _Sources:
    """Mixin: ``source`` (one) or ``sources`` (several, read one after the other, each with its own
    cursor: interface 26 receives results from Remindo over REST and from Facet and TOA over SFTP)."""

    @model_validator(mode="after")
    def _one_way_to_name_sources(self):
        if (self.source is None) == (not self.sources):
            raise ValueError("give either `source` or `sources` (a list), not both and not neither")
        return self

    @property
    def all_sources(self) -> list:
        return [self.source] if self.source is not None else list(self.sources)


@lru_cache(maxsize=4)
def interface_model(registry) -> type[InterfaceBase]:
    """The Interface model for the plugins in ``registry``."""
    partial = getattr(registry, "partial", False)
    source = _union([p.source_spec for p in registry if p.source_spec], partial)
    target = _union([p.target_spec for p in registry if p.target_spec], partial)
    fields = dict(
        source=(source | None, Field(None, description="Where the records come from.")),
        sources=(list[source] | None, Field(None, min_length=1, description="Several sources, read in turn.")),
        targets=(list[target], Field(min_length=1, description="Where the records go.")),
    )
    # over all the plugins even for a subset: a model without the field would differ (model_dump)
    callback = _callback_model(getattr(registry, "whole", registry))
    if callback is not None:
        fields["callbacks"] = (list[callback], Field(
            default_factory=list,
            description="Calls the target systems make back about what they were sent (status postbacks), "
            "received on Koppel's server and written to the SIS.",
        ))
    return create_model("Interface", __base__=(_Sources, InterfaceBase), **fields)


def plugins_used(data: object, registry):  # noqa: ANN201 - a runtime.registry.Registry
    """The registry of just the plugins that ``data`` (an interface file's parsed YAML) names in
    ``type:`` of its source(s) and targets, when they are enough to validate it exactly as all of
    them would; else ``registry`` itself.

    ``koppel run 0`` (a db interface) then imports and builds the db plugin's spec, not SOAP's or
    REST's. Anything the smaller model could report differently gets the whole registry: an
    unknown or missing ``type:`` (its message lists every known type), a type used in a role its
    plugin does not play, a file without sources or targets, and ``callbacks:`` (their model
    needs the plugins that receive and store them)."""
    if not isinstance(data, dict) or "callbacks" in data:
        return registry
    sources, targets = data.get("sources"), data.get("targets")
    if (sources is not None and not isinstance(sources, list)) or not isinstance(targets, list):
        return registry
    roles = {
        "source": ([data["source"]] if data.get("source") is not None else []) + list(sources or []),
        "target": targets,
    }
    used: dict[str, set[str]] = {}
    for role, specs in roles.items():
        if not specs:
            return registry
        for spec in specs:
            kind = spec.get("type") if isinstance(spec, dict) else None
            if not isinstance(kind, str) or kind not in registry:
                return registry
            used.setdefault(role, set()).add(kind)
    subset = registry.subset(used["source"] | used["target"])
    for role, kinds in used.items():
        if any(role not in subset.get(kind).roles for kind in kinds):
            return registry
    return subset


def _callback_model(registry) -> type[CallbackBase] | None:
    """A callback is received by the ``webhook`` plugin's source and written by the ``sis``
    plugin's target; without those two plugins there are no callbacks."""
    # asked for by name, not by going through the registry, which would import every plugin
    webhook = registry.get("webhook").source_spec if "webhook" in registry else None
    sis = registry.get("sis").target_spec if "sis" in registry else None
    if webhook is None or sis is None:
        return None
    return create_model(
        "Callback",
        __base__=CallbackBase,
        source=(webhook, Field(description="Where Koppel receives the calls: path, authentication, key.")),
        target=(sis, Field(description="The SIS object the calls update, e.g. a document by its sign_transaction_id.")),
    )
