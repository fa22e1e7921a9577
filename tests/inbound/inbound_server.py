"""Koppel's webhook/SCIM server for the project's own definitions, as a process of its own:
``python tests/inbound/inbound_server.py PORT`` (KOPPEL_STATE_URL, KOPPEL_SIS_URL from the
environment). The hostile-client tests measure this process's resident memory."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(port: int) -> None:
    import uvicorn

    from runtime import settings
    from runtime.engine import Engine
    from runtime.engine.server import create_app
    from runtime.project import load_project

    project = load_project(ROOT)  # not require_valid(): a problem elsewhere (another interface) must not stop these tests
    engine = Engine(project, environment="sandbox", state_url=settings.state_url(ROOT))
    uvicorn.run(create_app(engine), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]))
