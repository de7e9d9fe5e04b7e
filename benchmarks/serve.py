"""Load test of ``rnnkit serve`` on loopback: latency, throughput, errors and memory.

Trains a small digits classifier (or serves ``--run DIR``), starts ``rnnkit serve`` in its own
process, then sends, with httpx from this process:

1. single requests one after another (one image each);
2. concurrent requests: ``--clients`` clients sending ``--requests`` each at the same time (the
   server batches them: the mean batch size is read from ``/metadata``);
3. malformed requests of every kind (wrong width, wrong type, misspelt field, NaN, too long,
   no body, an oversized body, broken JSON), which must all be answered 4xx;
4. the concurrent round again, to see whether memory stays flat.

Prints a table and writes JSON (``benchmarks/results/serve.json``): p50/p99 latency (ms),
throughput (requests/s), counts of 2xx/4xx/5xx, the server's resident memory after each phase
(MiB) and the load average. Bounded in count: about 2,500 requests in all.

    .venv/bin/python benchmarks/serve.py [--run DIR] [--clients 32] [--requests 25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from sklearn.datasets import load_digits

REPO = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(latencies: list[float], seconds: float, codes: list[int]) -> dict:
    ms = np.array(latencies) * 1000
    return {
        "requests": len(codes),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "throughput_rps": round(len(codes) / seconds, 1),
        "2xx": sum(200 <= c < 300 for c in codes),
        "4xx": sum(400 <= c < 500 for c in codes),
        "5xx": sum(c >= 500 for c in codes),
    }


async def timed(client: httpx.AsyncClient, **request) -> tuple[float, int]:
    started = time.perf_counter()
    answer = await client.request("POST", "/predict", **request)
    return time.perf_counter() - started, answer.status_code


async def single(client, images, n) -> dict:
    results, started = [], time.perf_counter()
    for i in range(n):
        results.append(await timed(client, json={"sequences": [images[i % len(images)]]}))
    return summary([r[0] for r in results], time.perf_counter() - started, [r[1] for r in results])


async def concurrent(client, images, clients, per_client) -> dict:
    async def one_client(k):
        out = []
        for i in range(per_client):
            image = images[(k * per_client + i) % len(images)]
            out.append(await timed(client, json={"sequences": [image]}))
        return out

    started = time.perf_counter()
    results = [r for rs in await asyncio.gather(*(one_client(k) for k in range(clients)))
               for r in rs]  # fmt: skip
    return summary([r[0] for r in results], time.perf_counter() - started, [r[1] for r in results])


def malformed_requests(images) -> list[dict]:
    image = images[0]
    return [
        {"json": {"sequences": [[[1.0, 2.0]]]}},  # wrong width
        {"json": {"sequences": [[["a"] * 8]]}},  # wrong type
        {"json": {"sequence": [image]}},  # misspelt field
        {"json": {"sequences": []}},  # empty
        {
            "content": b'{"sequences": [[[NaN,0,0,0,0,0,0,0]]]}',
            "headers": {"content-type": "application/json"},
        },  # NaN  # fmt: skip
        {"json": {"sequences": [[[0.0] * 8] * 5000]}},  # too long
        {"content": b"{broken", "headers": {"content-type": "application/json"}},
        {"content": b"x" * (2 << 20), "headers": {"content-type": "application/json"}},  # big
        {"json": {"sequences": "nope"}},
        {"json": [1, 2, 3]},
    ]


async def malformed(client, images, rounds) -> dict:
    results, started = [], time.perf_counter()
    for _ in range(rounds):
        for request in malformed_requests(images):
            results.append(await timed(client, **request))
    return summary([r[0] for r in results], time.perf_counter() - started, [r[1] for r in results])


def train_run(folder: Path) -> Path:
    import rnnkit

    digits = load_digits()
    clf = rnnkit.Classifier(model__hidden_size=64, epochs=10, train__threads=1)
    clf.fit(list(digits.images[:1500]), digits.target[:1500])
    return clf.save(folder / "digits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="a classify run (default: train)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=25, help="per client, per round")
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "serve.json")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rnnkit-serve-"))
    run = args.run or train_run(folder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "serve", "--run", str(run), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    images = load_digits().images[1500:].tolist()
    report: dict = {"run": str(run), "clients": args.clients, "per_client": args.requests}

    async def scenario():
        limits = httpx.Limits(max_connections=200)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            for _ in range(300):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            await single(client, images, 50)  # warm-up
            report["rss_mib"] = {"after warm-up": round(rss_mib(server.pid), 1)}
            report["single"] = await single(client, images, args.single)
            report["rss_mib"]["after single"] = round(rss_mib(server.pid), 1)
            report["concurrent"] = await concurrent(client, images, args.clients, args.requests)
            report["rss_mib"]["after concurrent"] = round(rss_mib(server.pid), 1)
            report["malformed"] = await malformed(client, images, 10)
            report["concurrent_again"] = await concurrent(
                client, images, args.clients, args.requests
            )
            report["rss_mib"]["after second concurrent"] = round(rss_mib(server.pid), 1)
            meta = (await client.get("/metadata")).json()["batching"]
            report["mean_batch"] = round(meta["requests"] / max(meta["batches"], 1), 2)

    try:
        asyncio.run(scenario())
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    report["load_average_1_5_15min"] = [round(x, 2) for x in os.getloadavg()]
    rows = ["single", "concurrent", "malformed", "concurrent_again"]
    print(f"{'phase':18s} {'requests':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'req/s':>8s} "
          f"{'2xx':>5s} {'4xx':>5s} {'5xx':>5s}")  # fmt: skip
    for row in rows:
        r = report[row]
        print(f"{row:18s} {r['requests']:8d} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r['throughput_rps']:8.1f} {r['2xx']:5d} {r['4xx']:5d} {r['5xx']:5d}")  # fmt: skip
    print(
        f"mean batch in the concurrent rounds: {report['mean_batch']}; server memory (MiB): "
        f"{report['rss_mib']}; load average {report['load_average_1_5_15min']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
