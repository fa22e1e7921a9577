"""List the surviving mutants of a group that only change the letter case of SQL text, for
mutation/equivalent.toml.

    .venv/bin/python mutation/sql_case.py verzuim     # prints TOML lines; review them, then append

mutmut upper- and lower-cases string literals. In SQL, keywords and unquoted identifiers mean the
same in any case on SQLite and PostgreSQL, so such a mutant cannot be told from the original by
any test. A mutant is listed only when the original and the mutated line differ in case alone,
the line holds SQL (a keyword among SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, TRIGGER,
FUNCTION, BEGIN, END, WHERE, PERFORM, RETURN, ON CONFLICT), and no character inside a quoted
SQL string literal ('...') or a quoted identifier ("...") changed: those do mean something.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import SCRATCH, load_groups  # noqa: E402

_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|TRIGGER|FUNCTION|BEGIN|END|WHERE|PERFORM|RETURN|"
                  r"ON CONFLICT)\b", re.IGNORECASE)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _sql_inside(line: str) -> str:
    """The text of the Python string literals on ``line`` (crudely: between its outer quotes)."""
    parts = re.findall(r'f?"((?:[^"\\]|\\.)*)"', line) or re.findall(r"f?'((?:[^'\\]|\\.)*)'", line)
    return " ".join(parts)


def case_only(removed: str, added: str) -> bool:
    a, b = removed[1:].strip(), added[1:].strip()
    if a == b or a.lower() != b.lower():
        return False
    sql_a, sql_b = _sql_inside(a), _sql_inside(b)
    if not _SQL.search(sql_a) and not _SQL.search(a):
        return False
    return _QUOTED.findall(sql_a) == _QUOTED.findall(sql_b)


def main(group: str) -> None:
    groups, _, equivalent = load_groups()
    work = SCRATCH / group
    meta = work / "mutants" / (groups[group]["module"] + ".meta")
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    mutmut = str(Path(sys.executable).parent / "mutmut")
    for name, code in sorted(codes.items()):
        if code != 0 or name in equivalent:
            continue
        diff = subprocess.run([mutmut, "show", name], cwd=work, capture_output=True, text=True).stdout.splitlines()
        removed = [line for line in diff if line.startswith("-") and not line.startswith("---")]
        added = [line for line in diff if line.startswith("+") and not line.startswith("+++")]
        if len(removed) == len(added) == 1 and case_only(removed[0], added[0]):
            print(f'"{name}" = "only the case of SQL keywords or unquoted identifiers changes: the same SQL"')


if __name__ == "__main__":
    main(sys.argv[1])
