"""Helpers the REST stand-in tests share (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sandbox.runner import Sandbox

PROJECT = Path(__file__).resolve().parents[3]


def secret(name: str) -> str:
    return (PROJECT / "sandbox" / "secrets" / name).read_text().strip()


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + secret(name)}


def control(box: Sandbox, name: str) -> str:
    """The stand-in's root (where /_sandbox/... lives)."""
    url = httpx.URL(box.url(name))
    return f"{url.scheme}://{url.host}:{url.port}"


def fault(box: Sandbox, name: str, **spec) -> None:
    r = httpx.post(control(box, name) + "/_sandbox/faults", json=spec)
    assert r.status_code == 201


def specs_present(box: Sandbox, relative: str) -> None:
    if box.context("website").contract(relative) is None:
        pytest.skip(f"../shared/specs/{relative} is absent: the contract check needs the public spec")
