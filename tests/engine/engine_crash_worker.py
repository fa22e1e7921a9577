"""Run interface 1 (SQL table → HTTP test target) to the end; the crash test kills this at random."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import engine_fakes  # noqa: E402
import engine_http  # noqa: E402
import engine_sqlrows  # noqa: E402
from runtime.engine import Engine  # noqa: E402


def main(root: str, state_url: str, source_url: str, target_url: str) -> None:
    reg = engine_fakes.registry({"httptest": engine_http.plugin(), "sqlrows": engine_sqlrows.plugin()})
    project = engine_fakes.make_project(Path(root), reg, [{
        "id": 1, "source": {"type": "sqlrows", "url": source_url},
        "targets": [{"type": "httptest", "url": target_url}],
        "delivery": {"batch_size": int(os.environ.get("KOPPEL_CRASH_BATCH", "200")),
                     "commit_every": int(os.environ.get("KOPPEL_CRASH_COMMIT_EVERY", "50")),
                     "retries": {"max_attempts": 50, "initial_delay": 0.01, "max_delay": 0.05}},
    }])
    from runtime.engine.logs import configure

    configure(level="INFO")  # on stderr: the crash tests keep each worker's for a failure's message
    engine = Engine(project, reg, state_url=state_url)
    summary = engine.run_interface(1, lease_wait=30)
    print(summary.outcome, summary.read, summary.delivered, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
