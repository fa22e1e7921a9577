"""Logging: one JSON object per line (for the daemon and pipes) or short text (a terminal).

Every line goes through ``runtime.redact``: the message, the arguments and every extra field,
so a BSN or a secret that slips into an exception text is masked before it is written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from runtime import redact

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName", "color_message"}


def _extras(record: logging.LogRecord) -> dict:
    # every value: an integer BSN or a tuple is as personal as a string
    return {k: redact.data(v) for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _as_text(value: object) -> str:
    """An extra that JSON cannot hold (a Record, a Path) as masked text, not its raw str()."""
    return redact.text(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact.text(record.getMessage()),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = redact.text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=_as_text)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{record.levelname.lower():7} {redact.text(record.getMessage())}"
        if extras:
            line += f"  [{redact.text(extras)}]"
        if record.exc_info:
            line += "\n" + redact.text(self.formatException(record.exc_info))
        return line


def configure(*, json_lines: bool | None = None, level: str = "INFO", stream=None) -> None:
    """Send Koppel's logs (and uvicorn's, apscheduler's) to ``stream``, masked."""
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not stream.isatty()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_koppel", False):
            root.removeHandler(h)
    handler._koppel = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("apscheduler", "httpx", "httpcore", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel("WARNING")
