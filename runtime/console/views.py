"""What each console page shows, gathered from the engine, the state database and the daemon's
loops. Plain dicts; the templates render them and mask every value on the way out.

The overview's red/amber/green comes from the same facts as /readyz (runtime/engine/health.py):
red while the interface's loop is down or its backlog is past ``KOPPEL_READY_MAX_LAG``, or its
last run ended in ``error``/``crashed``; amber with open dead letters or a ``partial`` last run;
green otherwise. A planned interface is grey.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select

from runtime import redact
from runtime.engine.audit import carries_bsn
from runtime.engine.health import max_lag, verdict
from runtime.engine.state import models as m
from runtime.engine.state.common import aware

RED_OUTCOMES = ("error", "crashed", "interrupted")


def last_runs(store) -> dict[int, dict]:
    """Each interface's newest finished or running run."""
    r = m.runs.c
    newest = select(r.interface_id, func.max(r.id).label("id")).group_by(r.interface_id).subquery()
    q = select(m.runs).join(newest, m.runs.c.id == newest.c.id)
    with store.engine.connect() as c:
        return {row["interface_id"]: dict(row) for row in c.execute(q).mappings()}


def loop_states(state) -> dict[int, list]:
    health = getattr(state, "health", None) if state is not None else None
    out: dict[int, list] = {}
    if health is None:
        return out
    for status in health.statuses():
        out.setdefault(status.interface_id, []).append(status)
    return out


def next_runs(engine, state) -> dict[int, dt.datetime]:
    """When each scheduled interface runs next: from the daemon's scheduler, else from its trigger."""
    health = getattr(state, "health", None) if state is not None else None
    scheduler = getattr(health, "scheduler", None)
    out: dict[int, dt.datetime] = {}
    if scheduler is not None:
        for job in scheduler.scheduler.get_jobs():
            if job.id.startswith("interface-") and getattr(job, "next_run_time", None):
                out[int(job.id.split("-", 1)[1])] = job.next_run_time
        return out
    from runtime.engine.scheduler import cron_trigger, interval_trigger

    now = dt.datetime.now(dt.UTC)
    for iid, interface in engine.project.interfaces.items():
        t = interface.trigger
        if interface.status != "active" or t.type not in ("cron", "interval"):
            continue
        try:
            trigger = cron_trigger(t.cron, t.timezone) if t.type == "cron" else interval_trigger(t.every, getattr(t, "start", None))
            out[iid] = trigger.get_next_fire_time(None, now)
        except Exception:  # noqa: BLE001 - a trigger that cannot say is shown without a next run
            continue
    return out


def overview(engine, state) -> list[dict]:
    project = engine.project
    runs = last_runs(engine.store)
    dead = engine.store.count_dead_letters()
    loops = loop_states(state)
    upcoming = next_runs(engine, state)
    limit = max_lag()
    rows = []
    for iid, interface in sorted(project.interfaces.items()):
        row = project.catalog.row(iid)
        run = runs.get(iid)
        statuses = loops.get(iid, [])
        reasons = [why for s in statuses if (why := verdict(s, limit))]
        lag = max((s.lag_seconds for s in statuses if s.lag_seconds is not None), default=None)
        rows.append({
            "id": iid, "name": interface.name, "from": row.from_ if row else "", "to": row.to if row else "",
            "type": interface.type, "status": interface.status,
            "loop": ", ".join(f"{s.kind}: {s.state}" for s in statuses) or "-",
            "last_run": run, "duration": _duration(run), "next_run": upcoming.get(iid), "lag": lag,
            "dead": dead.get(iid, 0), "reasons": reasons,
            "rag": rag(interface.status, run, dead.get(iid, 0), reasons),
        })
    return rows


def rag(status: str, run: dict | None, dead: int, reasons: list[str]) -> str:
    if status != "active":
        return "grey"
    if reasons or (run and run["outcome"] in RED_OUTCOMES):
        return "red"
    if dead or (run and run["outcome"] == "partial"):
        return "amber"
    return "green"


def _duration(run: dict | None) -> float | None:
    if not run or not run.get("ended_at"):
        return None
    ended, started = aware(run["ended_at"]), aware(run["started_at"])
    return (ended - started).total_seconds() if ended and started else None


def interface_page(engine, iid: int) -> dict:
    from runtime.engine import tracing

    interface = engine.project.interface(iid)
    runs = engine.store.list_runs(interface_id=iid, limit=30)
    for run in runs:
        run["trace_id"] = tracing.trace_of(engine.store, run["id"])
        run["duration"] = _duration(run)
    peak = max([r["delivered"] + r["dead"] for r in runs] or [0]) or 1
    definition = redact.data(interface.model_dump(mode="json", by_alias=True, exclude_none=True))
    return {"interface": interface, "row": engine.project.catalog.row(iid), "runs": runs, "peak": peak,
            "definition": definition, "carries_bsn": carries_bsn(engine.project, interface),
            "dead": engine.store.count_dead_letters().get(iid, 0)}


def run_page(engine, run_id: int) -> dict | None:
    from runtime.engine import tracing

    run = engine.store.run(run_id)
    if run is None:
        return None
    run["duration"] = _duration(run)
    lin = m.lineage.c
    q = select(m.lineage).where(lin.run_id == run_id).order_by(lin.id).limit(500)
    with engine.store.engine.connect() as c:
        lineage = [dict(r) for r in c.execute(q).mappings()]
    return {"run": run, "trace_id": tracing.trace_of(engine.store, run_id), "lineage": lineage}


def lineage_search(store, query: str, limit: int = 200) -> list[dict]:
    """Every delivery of a record across interfaces and targets, newest first: by its source key,
    or by a key the record's idempotency key starts with or ends in (student number, aanmeldId)."""
    query = query.strip()
    if not query:
        return []
    lin = m.lineage.c
    like = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    q = (select(m.lineage).where(or_(lin.source_key == query, lin.idempotency_key == query,
                                     lin.source_key.like(f"%:{like}", escape="\\"),
                                     lin.idempotency_key.like(f"{like}:%", escape="\\"),
                                     lin.idempotency_key.like(f"%:{like}", escape="\\")))
         .order_by(lin.at.desc(), lin.id.desc()).limit(limit))
    with store.engine.connect() as c:
        return [dict(r) for r in c.execute(q).mappings()]


_WORST = ("red", "amber", "green", "grey")


def systems(project, rows: list[dict]) -> list[dict]:
    """Every system of the catalog, coloured by the worst state of the interfaces that touch it."""
    by_id = {r["id"]: r for r in rows}
    found: dict[str, list[str]] = {key: [] for key in project.catalog.systems}
    for row in project.catalog.interfaces:
        state = by_id.get(row.id, {}).get("rag", "grey")
        for key in {*row.source_systems, *row.target_systems}:
            found.setdefault(key, []).append(state)
    out = []
    for key, states in found.items():
        system = project.catalog.systems.get(key)
        rag = next((c for c in _WORST if c in states), "grey")
        out.append({"key": key, "name": system.name if system else key, "rag": rag,
                    "interfaces": sorted(r.id for r in project.catalog.interfaces
                                         if key in (*r.source_systems, *r.target_systems))})
    return out


def coloured_mermaid(project, systems_: list[dict]) -> str:
    """The catalog's architecture picture (``koppel catalog --format mermaid``), each system
    coloured by its state, to paste into any Mermaid viewer."""
    from runtime.catalog_render import _node, mermaid

    lines = [mermaid(project).rstrip("\n"),
             "    classDef green fill:#d8efe0,stroke:#2e8b57", "    classDef amber fill:#fff1c7,stroke:#d99a00",
             "    classDef red fill:#f9d6d6,stroke:#c62828", "    classDef grey fill:#eceef2,stroke:#9aa3af"]
    for colour in _WORST:
        members = [_node(s["key"]) for s in systems_ if s["rag"] == colour]
        if members:
            lines.append(f"    class {','.join(members)} {colour}")
    return "\n".join(lines) + "\n"
