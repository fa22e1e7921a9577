"""Problems found in the definitions, each pointing at a file, line, column and dotted path."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __lt__(self, other: Diagnostic) -> bool:
        # by file, then place; a problem of the whole file (no line) sorts first in its file
        return self._key() < other._key()

    def _key(self) -> tuple:
        return (self.file, self.line or 0, self.column or 0, self.path, self.message)

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def relative(path: Path, root: Path) -> str:
    """A path as the user would type it from the project root."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def dotted(loc: tuple | list) -> str:
    """``('targets', 0, 'operation')`` → ``targets[0].operation``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(name: str, known: Iterable[str], *, cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to a misspelt ``name``, or ''."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""
