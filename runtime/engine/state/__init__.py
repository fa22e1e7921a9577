"""Koppel's state database: tables (``models``), Alembic migrations (``migrate``), access (``store``)."""

from runtime.engine.state.store import StateStore, utcnow

__all__ = ["StateStore", "utcnow"]
