"""The exit codes of every ``koppel`` command, one meaning each, so scripts and supervisors can
tell "fix the definitions" from "look at the dead letters" without parsing the output."""

from __future__ import annotations

#: everything done as asked
OK = 0
#: the command failed: invalid definitions, a run that stopped on an error, a failed test
FAILURE = 1
#: the command line was wrong (click's own code for usage errors)
USAGE = 2
#: finished, but some records went to the dead letters (``koppel run``, ``deadletters replay``)
DEAD_LETTERS = 3

HELP = (
    "Exit codes: 0 ok; 1 failure (invalid definitions, a run stopped by an error, a failed test); "
    "2 usage error; 3 finished with dead letters (run, deadletters replay)."
)
