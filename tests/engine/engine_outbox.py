"""A minimal outbox source over runtime.sis.outbox, for tests and the latency bench while the sis
plugin's own source is not in the tree (the sis plugin is used instead when it is)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from runtime.models.interface import SpecBase
from runtime.plugin import Batch, Plugin, Record, Source


class OutboxTestSpec(SpecBase):
    type: Literal["outboxtest"]
    url: str
    objects: list[str]


class OutboxTestSource(Source):
    def __init__(self, spec, ctx) -> None:
        self.spec = spec
        self.size = ctx.options.get("batch_size", 500)

    def open(self) -> None:
        from runtime.sis.outbox import OutboxReader

        self.reader = OutboxReader(self.spec.url)

    def close(self) -> None:
        self.reader.close()

    def read(self, cursor: str | None) -> Iterator[Batch]:
        seq = int(cursor or 0)
        while True:
            rows = self.reader.read_after(seq, self.spec.objects, limit=self.size)
            horizon = self.reader.horizon
            if rows or horizon > seq:
                yield Batch([Record(key=r.key, data={"id": r.key, "object": r.object, "op": r.op}, object=r.object,
                                    meta={"seq": r.seq, "changed_at": r.changed_at.isoformat()}) for r in rows],
                            cursor=str(horizon))
            if not rows or horizon == seq:
                return
            seq = horizon


def plugin() -> Plugin:
    return Plugin("outboxtest", "test outbox source", source_spec=OutboxTestSpec,
                  create_source=lambda s, c: OutboxTestSource(s, c))


def sis_source_spec(url: str, objects: list[str]) -> tuple[dict, dict]:
    """The source spec to use and extra plugins: the real sis source when it exists."""
    try:
        import plugins.sis.source  # noqa: F401
    except ModuleNotFoundError:
        return {"type": "outboxtest", "url": url, "objects": objects}, {"outboxtest": plugin()}
    import plugins.sis

    return {"type": "sis", "object": objects[0], "mode": "outbox"}, {"sis": plugins.sis.plugin}
