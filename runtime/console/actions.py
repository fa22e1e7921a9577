"""What an operator does from the console, each recorded in the audit trail (runtime/engine/audit.py)
with who, what, why and how it ended. The entry is written after the action, with its outcome;
an action that raised is recorded too (outcome ``failed: ...``) before the error is shown.

Replay and discard need a reason (the privacy officer asks why a record was sent again or let
go); run and dry-run take one optionally. Decision: a dry-run is recorded only for an interface
that carries a BSN (audit.carries_bsn), as the issue asks: looking at masked messages of other
interfaces is reading, not acting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from runtime.engine import audit
from runtime.engine.audit import Actor, carries_bsn, run_outcome
from runtime.errors import KoppelError

MAX_REASON = 500


class ActionRefused(Exception):
    """The request cannot be carried out as asked (a reason missing, nothing selected)."""


@dataclass
class Selection:
    """Dead letters chosen on the page: these ids, or every open one matching the filter."""

    ids: list[int]
    every_matching: bool = False
    interface_id: int | None = None
    error_class: str | None = None
    since: dt.datetime | None = None


def require_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("say why: a reason is required")
    if len(reason) > MAX_REASON:
        raise ActionRefused(f"the reason is {len(reason)} characters long; keep it under {MAX_REASON}")
    return reason


def run_now(engine, actor: Actor, iid: int, reason: str | None):
    try:
        summary = engine.run_interface(iid, trigger="manual")
    except KoppelError as exc:
        _record(engine, actor, "run", iid, None, reason, f"failed: {exc}")
        raise
    _record(engine, actor, "run", iid, f"run {summary.run_id}" if summary.run_id else None, reason,
            run_outcome(summary))
    return summary


def dry_run_now(engine, actor: Actor, iid: int, limit: int, reason: str | None):
    from runtime.engine.dryrun import dry_run

    interface = engine.project.interface(iid)
    items = dry_run(engine, iid, limit=limit)
    if carries_bsn(engine.project, interface):
        _record(engine, actor, "dry-run", iid, f"up to {limit} record(s)", reason, f"{len(items)} item(s) shown")
    return items


def replay(engine, actor: Actor, selection: Selection, reason: str | None):
    from runtime.engine.deadletters import DeadLetters

    reason = require_reason(reason)
    dl = DeadLetters(engine)
    if selection.every_matching:
        results = dl.replay(interface_id=selection.interface_id, error_class=selection.error_class, since=selection.since)
    elif selection.ids:
        results = dl.replay(ids=selection.ids)
    else:
        raise ActionRefused("select the dead letters to replay, or choose every one matching the filter")
    outcome = audit.replay_outcome(results) or "nothing open matched"
    for iid in sorted({r.interface_id for r in results}) or [selection.interface_id]:  # type: ignore[list-item]
        ids = [r.id for r in results if r.interface_id == iid]
        _record(engine, actor, "replay", iid, _subject(ids, selection), reason, outcome)
    return results


def discard(engine, actor: Actor, selection: Selection, reason: str | None) -> int:
    from runtime.engine.deadletters import DeadLetters

    reason = require_reason(reason)
    dl = DeadLetters(engine)
    if selection.every_matching:
        ids = [d["id"] for d in engine.store.dead_letters(interface_id=selection.interface_id, since=selection.since,
                                                           error_class=selection.error_class, limit=100_000)]
    else:
        ids = selection.ids
    if not ids:
        raise ActionRefused("select the dead letters to discard, or choose every one matching the filter")
    letters = engine.store.dead_letters(ids=ids, status="open", limit=len(ids))
    n = dl.discard(ids, reason=f"{reason} ({actor.name})")
    for iid in sorted({d["interface_id"] for d in letters}) or [selection.interface_id]:
        mine = [d["id"] for d in letters if d["interface_id"] == iid]
        _record(engine, actor, "discard", iid, _subject(mine, selection), reason, f"{len(mine)} discarded")
    return n


def _subject(ids: list[int], selection: Selection) -> str:
    listed = audit.letters(ids)
    if not selection.every_matching:
        return listed
    parts = [f"interface {selection.interface_id}" if selection.interface_id is not None else None,
             f"class {selection.error_class}" if selection.error_class else None,
             f"since {selection.since:%Y-%m-%d %H:%M} UTC" if selection.since else None]
    return f"every open one matching ({', '.join(p for p in parts if p) or 'no filter'}): {listed}"


def _record(engine, actor: Actor, action: str, iid: int | None, subject: str | None, reason: str | None,
            outcome: str) -> None:
    audit.record(engine.store, actor, action, interface_id=iid, subject=subject,
                 reason=(reason or "").strip() or None, outcome=outcome)
