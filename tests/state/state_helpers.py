"""Helpers of the state-at-rest tests (a module of its own: ``conftest`` is a name every test
folder has, so importing from it picks whichever was imported first)."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text


def with_keys(project, key_files, *ids: str):
    """Give ``project`` a catalog whose sandbox state.keys are ``ids`` in this order."""
    from runtime.models.catalog import Catalog

    project.catalog = Catalog.model_validate({
        "college": "test", "source": "test", "interfaces": [], "systems": {},
        "state": {"keys": {"sandbox": [{"id": k, "key": f"${{file:{key_files[k]}}}"} for k in ids]}}})
    return project


def scan(url: str, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every needle found in any column of any table, as text."""
    engine = create_engine(url)
    found = []
    try:
        with engine.connect() as c:
            for table in inspect(engine).get_table_names():
                for col in inspect(engine).get_columns(table):
                    name = col["name"]
                    cast = f'CAST("{name}" AS TEXT)'
                    for needle in needles:
                        hit = c.execute(text(f'SELECT COUNT(*) FROM "{table}" WHERE {cast} LIKE :n'),
                                        {"n": f"%{needle}%"}).scalar()
                        if hit:
                            found.append((table, name, needle))
    finally:
        engine.dispose()
    return found
