"""The peer of an incremental ``koppel run 0`` in bench_db_incremental.py: dlt loading the rows
changed since its last run from SQLite into PostgreSQL, as a data engineer would write it with
dlt: ``sql_table`` with an incremental cursor on ``updated_at``, ``merge`` on the primary key
(dlt's default ``delete-insert`` strategy). dlt keeps the cursor in its pipeline state; the first
run loads every row. Run by a Python that has dlt (a venv of its own, see bench/README.md), as a
command:

    python bench/dlt_incremental.py SQLITE_FILE POSTGRES_URL DATASET PIPELINES_DIR

Prints the rows loaded by this run.
"""

from __future__ import annotations

import sys

import dlt
from dlt.sources.sql_database import sql_table


def main() -> None:
    sqlite_file, pg_url, dataset, pipelines_dir = sys.argv[1:5]
    pipeline = dlt.pipeline(pipeline_name=dataset, destination=dlt.destinations.postgres(pg_url),
                            dataset_name=dataset, pipelines_dir=pipelines_dir)
    source = sql_table(credentials=f"sqlite:///{sqlite_file}", table="enrollment", backend="sqlalchemy",
                       incremental=dlt.sources.incremental("updated_at"), primary_key="enrollment_id")
    info = pipeline.run(source, write_disposition="merge")
    info.raise_on_failed_jobs()
    print(pipeline.last_trace.last_normalize_info.row_counts.get("enrollment", 0))


if __name__ == "__main__":
    main()
