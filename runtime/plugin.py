"""The contract between the engine and a protocol plugin. Nothing else is asked of a plugin.

A plugin module (``plugins/rest``, ``plugins/soap``, ...) exposes one ``plugin = Plugin(...)``
object, registered under the entry-point group ``koppel.plugins``. It names its ``type`` (the
``type:`` written in YAML), the pydantic ``Spec`` models for the roles it plays, and factories.
Heavy libraries (zeep, paramiko, SQLAlchemy) are imported inside the factories, so that
``koppel validate`` starts fast.

Source, called by the engine in this order::

    open()                    connect, authenticate; ConfigError if settings are wrong
    read(cursor) -> batches   yields Batch objects, each bounded in size; ``cursor`` is what the
                              last committed batch returned (None on the first run)
    commit(batch)             the batch was fully acknowledged (delivered or dead-lettered) and
                              its cursor stored: now is the time for side effects such as moving
                              a processed file to the archive. Must be idempotent.
    close()
    reread(records) -> list   optional: the same records as the source holds them now (None for a
                              record that is gone), so a replay sends the newest state of a record
                              rather than the one stored with its dead letter

Target::

    open()
    write(items) -> outcomes  one Outcome per item, in order (runtime/engine/lane.py):
                              - a target that calls its peer once per item (rest, soap, sftp and
                                file per record) catches each call's error into that item's
                                Outcome: its own message, about its own record; the items
                                answered before it stay delivered, the ones after it are sent;
                              - a target that writes the items together (an array, one database
                                transaction: db, sis, a file per run) may raise when that write
                                fails as a whole: a TransientError has the lane retry the whole
                                write, a RecordError has it send the items one at a time; the
                                lane still records an outcome per item, naming it;
                              - ConfigError (raised) stops the run.
                              Never report an item the peer accepted as failed: a failed one is
                              retried (at least once), an accepted one must not become dead.
    render(item) -> str       what would go over the wire, for dry-run (secrets left out)
    close()

Bulk path (optional, both sides; used only for an interface without mapping, with
``delivery.ledger: false`` and no write-back, when its source and every target offer it)::

    Source.read_rows(cursor) -> batches   as ``read``, but a batch may carry ``rows`` (``Rows``:
                              upserts of one table as tuples) instead of ``records``; markers,
                              deletes and the like still come as records
    Target.write_rows(rows, durable=...)  write all rows or raise (nothing half-applied). With
                              ``durable=False`` the target may keep them in an open transaction or
                              stream; ``durable=True`` (and ``flush()``) return only when everything
                              written so far is durable. ``write()`` makes pending rows durable too.
    Target.flush()            make pending rows durable

On an exception from ``write_rows`` or ``flush`` the target must have rolled back what was not yet
durable: the engine then sends those batches again through ``write`` (per record), which decides
retries and dead letters as for any other interface.

Capabilities. Some engine features need a plugin that can do one particular thing; the plugin
declares it on its ``Plugin`` and the engine finds it by the capability, so ``runtime/`` names no
plugin:

- ``writeback_spec(object) -> target spec``: this plugin's target is the store that a target's
  answer is written back into (``writeback:`` on a target, runtime/engine/writeback.py). The
  sis plugin declares it.
- ``inbox=True``: this plugin's source reads one channel of Koppel's durable inbox, named by
  ``PluginContext.options["inbox_channel"]`` (``callbacks:``, runtime/engine/callbacks.py). The
  webhook plugin declares it.

Errors come from ``runtime.errors``: their class decides retry, dead letter or stop.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from runtime.errors import KoppelError

if TYPE_CHECKING:
    from runtime.diagnostics import Diagnostic
    from runtime.models.catalog import SystemEnvironment


@dataclass
class Record:
    """One record read from a source."""

    key: str  # the natural key in the source system (student number, aanmeldID, file name, ...)
    data: dict[str, Any]
    object: str | None = None  # object type, e.g. ``student``
    operation: str = "upsert"  # upsert or delete
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. outbox sequence, file name
    #: optional: the source cursor that is safe to store once this record and every record
    #: before it in its batch are acknowledged (runtime/engine/checkpoint.py); None: only the
    #: batch's cursor moves, at its end
    cursor: str | None = None


@dataclass
class Rows:
    """Upserts of one table in tuple form, for the bulk path: no Record, dict or Item per row."""

    object: str  # the table, as ``Record.object``
    columns: list[str]
    keys: list[str]  # the key columns; ``Record.key`` is their values joined by ``|``
    data: list[tuple]

    def __len__(self) -> int:
        return len(self.data)

    def to_records(self) -> list[Record]:
        """The same rows as records, exactly as a per-record read would give them."""
        columns, name = self.columns, self.object
        at = [columns.index(k) for k in self.keys]
        if len(at) == 1:
            i = at[0]
            return [Record(str(row[i]), dict(zip(columns, row)), name) for row in self.data]
        return [Record("|".join(str(row[i]) for i in at), dict(zip(columns, row)), name) for row in self.data]


@dataclass
class Batch:
    """A bounded batch of records and the cursor that is valid once all of them are handled."""

    records: list[Record]
    cursor: str | None = None
    #: opaque to the engine; handed back to ``Source.commit`` (e.g. the remote file to archive)
    token: Any = None
    #: bulk path only (``Source.read_rows``): the batch's rows in tuple form; ``records`` is empty
    rows: Rows | None = None


@dataclass
class Item:
    """One mapped record on its way to one target."""

    key: str  # idempotency key
    payload: Any  # what the mapping produced
    source_key: str
    operation: str = "upsert"
    object: str | None = None


@dataclass
class Outcome:
    """What the target did with one item."""

    error: KoppelError | None = None
    reference: str | None = None  # the target's own reference (DUO message id, transaction id)
    response: Any = None  # the useful part of the answer, for write-back into the SIS

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class PluginContext:
    """What a plugin gets besides its spec: the system's settings for the chosen environment."""

    environment: str
    project_root: Path
    system_name: str | None = None
    system: "SystemEnvironment | None" = None
    interface_id: int | None = None
    #: the engine's state database URL, for plugins that keep durable state (webhook inbox)
    state_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


class Source(ABC):
    def open(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    def read(self, cursor: str | None) -> Iterator[Batch]: ...

    def commit(self, batch: Batch) -> None:  # noqa: B027 - optional hook
        pass

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class Target(ABC):
    def open(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    def write(self, items: Sequence[Item]) -> list[Outcome]: ...

    def render(self, item: Item) -> str:
        import json

        return json.dumps(item.payload, ensure_ascii=False, indent=2, default=str)

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def lazy(target: str) -> Callable:
    """A factory that imports ``"module:attribute"`` on its first call and calls that.

    Plugin packages declare their factories with it, so importing a plugin (as ``koppel
    validate`` does for every one) never loads zeep, paramiko or SQLAlchemy.
    """
    module_name, _, attribute = target.partition(":")
    resolved: list[Callable] = []

    def factory(*args: Any, **kwargs: Any) -> Any:
        if not resolved:
            import importlib

            resolved.append(getattr(importlib.import_module(module_name), attribute))
        return resolved[0](*args, **kwargs)

    factory.__qualname__ = factory.__name__ = f"lazy({target})"
    return factory


SourceFactory = Callable[[BaseModel, PluginContext], Source]
TargetFactory = Callable[[BaseModel, PluginContext], Target]
#: static checks beyond the schema, e.g. "the operation exists in the WSDL"
Checker = Callable[[BaseModel, PluginContext], "list[tuple[tuple, str]]"]
#: what a record written through a target spec may hold: (a label such as "SIS object 'internship'",
#: {field: the fields of one entry of a child list, or None for a plain value}); None: any shape
FieldLister = Callable[[BaseModel, PluginContext], "tuple[str, dict[str, Any]] | None"]


@dataclass(frozen=True)
class Plugin:
    type: str
    description: str
    source_spec: builtins.type[BaseModel] | None = None
    target_spec: builtins.type[BaseModel] | None = None
    create_source: SourceFactory | None = None
    create_target: TargetFactory | None = None
    #: returns (loc inside the spec, message) pairs; loc like ("operation",)
    check: Checker | None = None
    #: lets ``koppel validate`` check a mapping's output fields against what the target stores
    fields: FieldLister | None = None
    #: capability: the target spec that writes into ``object`` of the store write-backs go to
    writeback_spec: Callable[[str], BaseModel] | None = None
    #: capability: the source reads a channel of the durable inbox (``options["inbox_channel"]``)
    inbox: bool = False

    @property
    def roles(self) -> list[str]:
        return [r for r, s in (("source", self.source_spec), ("target", self.target_spec)) if s]


__all__ = [
    "Batch",
    "Item",
    "Outcome",
    "Plugin",
    "PluginContext",
    "Record",
    "Rows",
    "Source",
    "Target",
    "Diagnostic",
]
