"""A daemon over a slow source and target, for the SIGTERM drain test."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import engine_fakes  # noqa: E402
from runtime.engine import Engine  # noqa: E402
from runtime.engine.daemon import Daemon  # noqa: E402
from runtime.engine.logs import configure  # noqa: E402


class SlowBehaviour(engine_fakes.Behaviour):
    pass


def main(root: str, state_url: str, port: str) -> None:
    configure(json_lines=True)
    engine_fakes.SOURCES["src"] = engine_fakes.records(100_000)
    engine_fakes.TARGETS["tgt"] = engine_fakes.Behaviour()
    original = engine_fakes.MemoryTarget.write

    def slow_write(self, items):
        time.sleep(0.05)
        return original(self, items)

    engine_fakes.MemoryTarget.write = slow_write
    reg = engine_fakes.registry()
    project = engine_fakes.make_project(Path(root), reg, [{
        "id": 22, "type": "realtime", "trigger": {"type": "poll", "every": "1s"},
        "source": {"type": "memory", "name": "src"}, "targets": [{"type": "memtarget", "name": "tgt"}],
        "delivery": {"batch_size": 100}}])
    Daemon(Engine(project, reg, state_url=state_url), port=int(port)).serve()


if __name__ == "__main__":
    main(*sys.argv[1:4])
