"""In-process fake plugins for unit tests: a memory source and a misbehaving memory target."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from runtime.errors import RecordError, TransientError
from runtime.models.interface import SpecBase, TargetSpecBase, interface_model
from runtime.plugin import Batch, Item, Outcome, Plugin, Record, Source, Target
from runtime.registry import Registry

SOURCES: dict[str, list[Record]] = {}
TARGETS: dict[str, "Behaviour"] = {}


class MemorySourceSpec(SpecBase):
    type: Literal["memory"]
    name: str


class MemoryTargetSpec(TargetSpecBase):
    type: Literal["memtarget"]
    name: str


@dataclass
class Behaviour:
    """How the fake target misbehaves, and what it received."""

    transient_fraction: float = 0.0
    reject: set[str] = field(default_factory=set)  # source keys answered with a record error
    retry_after: float | None = None
    seed: int = 1
    received: list[Item] = field(default_factory=list)
    applied: dict[str, Item] = field(default_factory=dict)  # by wire idempotency key
    duplicates: int = 0
    calls: int = 0
    leak: bool = False  # put the payload in error messages, as careless peers do

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()


class MemorySource(Source):
    def __init__(self, spec, ctx) -> None:
        self.records = SOURCES[spec.name]
        self.size = ctx.options.get("batch_size", 100)

    def read(self, cursor: str | None) -> Iterator[Batch]:
        start = int(cursor or 0)
        for i in range(start, len(self.records), self.size):
            chunk = self.records[i : i + self.size]
            yield Batch(chunk, cursor=str(i + len(chunk)))


class MemoryTarget(Target):
    def __init__(self, spec, ctx) -> None:
        self.b = TARGETS[spec.name]

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        b = self.b
        with b.lock:
            b.calls += 1
            out = []
            for item in items:
                if b.rng.random() < b.transient_fraction:
                    out.append(Outcome(error=TransientError("503 from target", code="503", retry_after=b.retry_after)))
                    continue
                if item.source_key in b.reject:
                    text = f"rejected by target: {item.payload}" if b.leak else "rejected by target"
                    out.append(Outcome(error=RecordError(text, code="422")))
                    continue
                b.received.append(item)
                if item.key in b.applied:
                    b.duplicates += 1
                b.applied[item.key] = item
                out.append(Outcome(reference=f"ref-{item.source_key}", response={"id": item.source_key}))
            return out


def registry(extra: dict[str, Plugin] | None = None) -> Registry:
    plugins = {
        "memory": Plugin("memory", "test source", source_spec=MemorySourceSpec,
                         create_source=lambda s, c: MemorySource(s, c)),
        "memtarget": Plugin("memtarget", "test target", target_spec=MemoryTargetSpec,
                            create_target=lambda s, c: MemoryTarget(s, c)),
    }
    plugins.update(extra or {})
    return Registry(plugins)


def make_project(root: Path, reg: Registry, interfaces: list[dict], systems: dict[str, dict] | None = None):
    """A Project holding these interface definitions; a catalog only with ``systems``
    (name → settings, used for every environment)."""
    from runtime.models.catalog import Catalog
    from runtime.project import Project

    model = interface_model(reg)
    project = Project(root)
    if systems:
        project.catalog = Catalog.model_validate({
            "college": "test", "source": "test", "interfaces": [],
            "systems": {name: {"name": name, "environments": {e: settings for e in ("sandbox", "acceptatie", "productie")}}
                        for name, settings in systems.items()}})
    for data in interfaces:
        base = {"name": f"test {data['id']}", "type": "batch", "objects": ["student"],
                "trigger": {"type": "manual"}}
        iface = model.model_validate({**base, **data})
        project.interfaces[iface.id] = iface
        project.interface_paths[iface.id] = root / "interfaces" / f"{iface.id:02d}-test.yaml"
    return project


def records(n: int, prefix: str = "s") -> list[Record]:
    return [Record(key=f"{prefix}{i}", data={"id": f"{prefix}{i}", "n": i, "name": f"Student {i}"}, object="student")
            for i in range(n)]
