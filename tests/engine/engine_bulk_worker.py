"""Run the bulk replication interface to its end; the bulk crash test kills this mid-load."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import engine_bulk  # noqa: E402
import runtime.engine.bulk  # noqa: E402


def main(root: str, source: str, target_dsn: str, state_url: str, schema: str) -> None:
    runtime.engine.bulk.BULK_GROUP_ROWS = 5_000  # several durable points before the kill
    from plugins.db.target import TableTarget

    write_rows = TableTarget.write_rows

    def unhurried(self, rows, *, durable=True):  # so the test can kill it mid-load on a fast machine
        time.sleep(0.003)
        return write_rows(self, rows, durable=durable)

    TableTarget.write_rows = unhurried
    engine = engine_bulk.engine(Path(root), Path(source), target_dsn, state_url, schema, batch_size=1_000)
    summary = engine.run_interface(0, trigger="outbox", lease_wait=30)
    print(summary.outcome, summary.read, summary.delivered, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
