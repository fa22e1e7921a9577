"""Output conventions shared by the commands: ``--format text|json`` on everything that lists or
reports, and a closed pipe (``koppel runs | head``) that ends the command quietly."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click


def format_option(help: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``--format text|json`` (and the older ``--json`` as a hidden alias); the command gets
    ``as_json``."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wrapper(*args: Any, output_format: str, json_alias: bool, **kwargs: Any) -> Any:
            return f(*args, as_json=json_alias or output_format == "json", **kwargs)

        wrapper = click.option("--json", "json_alias", is_flag=True, hidden=True, help="Same as --format json.")(wrapper)
        return click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
                            show_default=True, help=help or "json: one JSON object per line.")(wrapper)

    return decorate


def quiet_broken_pipe() -> None:
    """The reader went away (``| head``): stop without a traceback. Python flushes stdout again at
    exit, so point it at /dev/null first, as the Python documentation advises for SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
