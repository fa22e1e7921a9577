"""REST push speed: the rest plugin's target vs plain httpx against the same HTTP server.

The server runs in its own process (so it does not share the GIL with the client being
measured): a minimal asyncio HTTP/1.1 server with keep-alive, fast enough that the client is what
is measured; it reads each body and answers 201 with a small JSON (an id per
record). Two shapes, each measured for both clients:

- one record per POST (most vendor APIs: Signhost, Therefore, B3Net stand-ins)
- 200-record JSON arrays (``batch: 200``; where a target accepts arrays)

Plain httpx does the same essential work as the plugin: one keep-alive ``httpx.Client``, JSON
encoding, the same auth header, status check, JSON decoding of the answer. The plugin adds what a
run needs: idempotency header, auth flow, rate-limit hook, error mapping, reference extraction and
one Outcome per record. Target for the ratio plugin/plain: at least 0.8.

    .venv/bin/python bench/bench_rest.py [--records 2000] [--rounds 5]

Medians of interleaved rounds. Absolute figures drift between machines; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = r'''
# A minimal asyncio HTTP/1.1 server: fast enough that the client, not the server, is measured.
import asyncio, json

class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n")[1:]:
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            data = json.loads(body)
            if isinstance(data, list):
                answer = json.dumps([{"id": r["id"]} for r in data]).encode()
            else:
                answer = json.dumps({"id": data["id"]}).encode()
            self.transport.write(
                b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(answer)).encode() + b"\r\n\r\n" + answer
            )

async def main():
    server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
'''


def payload(i: int) -> dict:
    return {
        "id": f"S{100000 + i}",
        "studentnummer": f"{100000 + i}",
        "naam": {"voornaam": "Jan", "achternaam": "Berg"},
        "opleiding": {"crebo": "25604", "cohort": "2025", "leerweg": "BOL"},
        "email": f"s{100000 + i}@student.kw1c.nl",
        "status": "ingeschreven",
    }


def run_plain(url: str, records: list[dict], batch: int | None) -> tuple[float, float]:
    import httpx

    headers = {"Authorization": "Bearer bench-token-0123456789", "Content-Type": "application/json"}
    start, cpu = time.perf_counter(), time.process_time()
    with httpx.Client(headers=headers, timeout=30) as client:
        chunks = [records[i : i + batch] for i in range(0, len(records), batch)] if batch else records
        for chunk in chunks:
            response = client.post(f"{url}/records", content=json.dumps(chunk, separators=(",", ":")).encode())
            response.raise_for_status()
            response.json()
    return len(records) / (time.perf_counter() - start), (time.process_time() - cpu) / len(records)


def run_plugin(url: str, records: list[dict], batch: int | None) -> tuple[float, float]:
    from plugins.rest import plugin
    from runtime.models.catalog import SystemEnvironment
    from runtime.plugin import Item, PluginContext

    os.environ["KOPPEL_BENCH_TOKEN"] = "bench-token-0123456789"
    system = SystemEnvironment.model_validate(
        {"url": url, "auth": {"type": "bearer", "token": "${env:KOPPEL_BENCH_TOKEN}"}, "timeout": 30}
    )
    ctx = PluginContext(environment="sandbox", project_root=ROOT, system_name="bench", system=system)
    spec = plugin.target_spec.model_validate({"type": "rest", "path": "records", "reference": "id", "batch": batch})
    target = plugin.create_target(spec, ctx)
    elapsed = cpu = 0.0
    delivered = 0
    # The engine hands over batches of delivery.batch_size (500) Items, records the outcomes and
    # drops them; building the Items is the engine's work, so only open/write/close are timed.
    for i in range(0, len(records), 500):
        items = [Item(key=r["id"], payload=r, source_key=r["id"]) for r in records[i : i + 500]]
        start, cpu_start = time.perf_counter(), time.process_time()
        if i == 0:
            target.open()
        outcomes = target.write(items)
        if i + 500 >= len(records):
            target.close()
        elapsed += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        delivered += sum(1 for o in outcomes if o.ok)
    assert delivered == len(records)
    return len(records) / elapsed, cpu / len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="records per round, one per POST")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        shapes = {"one record per POST": (None, args.records), "200-record arrays": (200, args.records * 20)}
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        run_plain(url, [payload(i) for i in range(200)], None)  # warm up both paths
        run_plugin(url, [payload(i) for i in range(200)], None)
        for _ in range(args.rounds):
            for shape, (batch, count) in shapes.items():
                records = [payload(i) for i in range(count)]
                for name, run in (("plain httpx", run_plain), ("rest plugin", run_plugin)):
                    results.setdefault((shape, name), []).append(run(url, records, batch))
        print(f"REST push, {args.rounds} interleaved rounds, medians (server: minimal asyncio HTTP/1.1, own process)")
        print("  records/s is wall clock (what a run sees); µs CPU/record is the client process only,")
        print("  which is steadier when other work shares the machine.")
        for shape in shapes:
            plain = results[(shape, "plain httpx")]
            plug = results[(shape, "rest plugin")]
            plain_rate, plug_rate = statistics.median(r for r, _ in plain), statistics.median(r for r, _ in plug)
            plain_cpu, plug_cpu = statistics.median(c for _, c in plain), statistics.median(c for _, c in plug)
            print(
                f"  {shape:20s} plain httpx {plain_rate:>9,.0f} rec/s {plain_cpu * 1e6:7.1f} µs CPU/rec | "
                f"rest plugin {plug_rate:>9,.0f} rec/s {plug_cpu * 1e6:7.1f} µs CPU/rec | "
                f"ratio {plug_rate / plain_rate:.2f} (throughput), {plain_cpu / plug_cpu:.2f} (CPU)"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
