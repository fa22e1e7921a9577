"""Jinja2 for the console: autoescaped, and every value masked on its way into the page.

``finalize`` runs on the result of every ``{{ ... }}``: whatever a template writes (a record, a
reason, an error text, a key) passes ``runtime.redact.text`` first, the same masking as the logs,
so a BSN or a secret cannot reach a page by a template that forgot to mask.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from runtime import redact
from runtime.engine.state.common import aware


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):  # already rendered (a macro's output): its values passed here
        return value
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(redact.data(value), ensure_ascii=False, indent=2, default=str)
    return redact.text(str(value))


def when(value) -> str:
    """A UTC timestamp shown in the college's time (Europe/Amsterdam), to the second."""
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    from zoneinfo import ZoneInfo

    return aware(value).astimezone(ZoneInfo("Europe/Amsterdam")).strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[union-attr]


def seconds(value) -> str:
    if value is None:
        return ""
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


class Templates:
    def __init__(self, directory: Path) -> None:
        self.env = Environment(loader=FileSystemLoader(directory), autoescape=select_autoescape(["html"]),
                               finalize=_finalize, trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(when=when, seconds=seconds)

    def render(self, name: str, context: dict) -> str:
        return self.env.get_template(name).render(context)
