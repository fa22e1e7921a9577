"""The peer of ``koppel run 0`` in bench_db_replication.py: the same table copied from SQLite to
PostgreSQL by dlt (``sql_table`` source, ``postgres`` destination, ``replace``), as a data
engineer would write it. Run by a Python that has dlt (``pip install '.[bench]'``, or a venv of
its own: dlt pins its own SQLAlchemy and psycopg2), as a command:

    python bench/dlt_replication.py SQLITE_FILE POSTGRES_URL DATASET PIPELINES_DIR

Prints the rows loaded.
"""

from __future__ import annotations

import sys

import dlt
from dlt.sources.sql_database import sql_table


def main() -> None:
    sqlite_file, pg_url, dataset, pipelines_dir = sys.argv[1:5]
    pipeline = dlt.pipeline(pipeline_name=dataset, destination=dlt.destinations.postgres(pg_url),
                            dataset_name=dataset, pipelines_dir=pipelines_dir)
    source = sql_table(credentials=f"sqlite:///{sqlite_file}", table="enrollment", backend="sqlalchemy")
    info = pipeline.run(source, write_disposition="replace")
    info.raise_on_failed_jobs()
    with pipeline.sql_client() as client:
        print(client.execute_sql(f"SELECT count(*) FROM {dataset}.enrollment")[0][0])


if __name__ == "__main__":
    main()
