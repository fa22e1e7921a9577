"""``paused_gc()``: no cyclic garbage collection while much is built and little is garbage.

Used where that was measured: start-up (``koppel run`` building its engine, ``koppel validate``
loading the whole project: tens of thousands of objects, next to no cyclic garbage, each
collection on the way scanning them all) and the db plugin's batches. Building 10,000 row dicts triggers a dozen generation-0/1 collections, and each one scans every
young object: measured, that more than doubles the cost per row of replication. Rows, records and
row tuples hold no reference cycles, so nothing is lost by collecting after the batch instead.
The collector's previous state is restored (a caller that had it off keeps it off).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc(*, freeze: bool = False) -> Iterator[None]:
    """``freeze``: what is tracked when the pause ends goes to the permanent generation first
    (``gc.freeze``), for a pause that made long-lived objects, such as a driver's import. Else the
    first allocation after the pause sets off a collection over every object made during it, all
    still young: 20-45 ms after importing psycopg, measured. Not for a pause that recurs (a batch):
    cyclic garbage frozen with the rest is kept until ``gc.unfreeze``."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()
