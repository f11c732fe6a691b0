"""Load generators, each run in a process of its own (pinned to the other core by the caller).

- wrk (Debian package `wrk`), closed loop: fixed connections, as fast as the server answers;
  its Lua script cycles through the bodies and prints one JSON summary.
- The same closed loop with an aiohttp client, where wrk is not installed, or where each body
  must be sent once and each accepted id written down (the end-to-end benchmark at full speed):
      python -m benchmarks.load closed --url U --bodies F [--connections 8] [--seconds 5] [--once --log OUT]
- An open loop for the end-to-end benchmark: requests at a fixed rate whatever the answers,
  each event's id and accept time (the 2xx) written down for latency:
      python -m benchmarks.load open --url U --bodies F --events-per-body K --rate EVENTS_S --seconds S --log OUT

Bodies files hold one request body per record, records separated by RS (0x1e).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

SEPARATOR = b"\x1e"
_WRK_SCRIPT = """
local f = assert(io.open(os.getenv("BENCH_BODIES"), "rb"))
local data = f:read("*a")
f:close()
local bodies = {}
for body in string.gmatch(data, "([^\\30]+)") do bodies[#bodies + 1] = body end
local i = 0
local headers = {["Content-Type"] = "application/x-ndjson"}
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[i])
end
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format('\\nWRK_JSON {"requests": %d, "seconds": %f, "errors": %d, "p50_ms": %f, "p99_ms": %f}\\n',
    summary.requests, summary.duration / 1e6, bad, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def write_bodies(path: Path, bodies: list[bytes]) -> Path:
    path.write_bytes(SEPARATOR.join(bodies))
    return path


def read_bodies(path: Path) -> list[bytes]:
    return [b for b in path.read_bytes().split(SEPARATOR) if b]


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_command(url: str, script: Path, connections: int, seconds: float) -> list[str]:
    return ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(script), url]


def write_wrk_script(folder: Path) -> Path:
    path = folder / "post.lua"
    path.write_text(_WRK_SCRIPT, encoding="utf-8")
    return path


def parse_wrk(output: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            result: dict[str, Any] = orjson.loads(line[len("WRK_JSON ") :])
            return result
    raise RuntimeError(f"wrk printed no summary: {output[-500:]}")


async def closed(
    url: str, bodies: list[bytes], connections: int, seconds: float, *, once: bool = False, log: Path | None = None
) -> dict[str, Any]:
    """As fast as the server answers, for `seconds` (or, with `once`, until every body was sent once)."""
    latencies: list[float] = []
    accepted: list[tuple[float, list[str]]] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    position = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors, position
        while time.perf_counter() < deadline and not (once and position >= len(bodies)):
            body = bodies[position % len(bodies)]
            position += 1
            started = time.perf_counter()
            async with session.post(url, data=body, headers={"Content-Type": "application/x-ndjson"}) as answer:
                content = await answer.read()
                if answer.status >= 300:
                    errors += 1
                elif log is not None:
                    accepted.append((time.time(), orjson.loads(content).get("ids", [])))
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    if log is not None:
        _write_log(log, accepted)
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "errors": errors,
        "p50_ms": statistics.median(ordered) * 1000 if ordered else 0.0,
        "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000 if ordered else 0.0,
    }


def _write_log(log: Path, accepted: list[tuple[float, list[str]]]) -> None:
    log.write_bytes(b"\n".join(orjson.dumps({"t": t, "ids": ids}) for t, ids in accepted))


def read_log(log: Path) -> dict[str, float]:
    """Event id -> when ingest answered 2xx for it."""
    accepted: dict[str, float] = {}
    for line in log.read_bytes().splitlines():
        entry = orjson.loads(line)
        for event_id in entry["ids"]:
            accepted[event_id] = entry["t"]
    return accepted


async def open_loop(
    url: str, bodies: list[bytes], per_body: int, rate: float, seconds: float, log: Path
) -> dict[str, Any]:
    """One body every per_body/rate seconds; each answer's accepted ids logged with the time of the 2xx."""
    interval = per_body / rate
    accepted: list[tuple[float, list[str]]] = []
    statuses: dict[str, int] = {}
    in_flight: set[asyncio.Task[None]] = set()

    async def post(session: aiohttp.ClientSession, body: bytes) -> None:
        async with session.post(url, data=body, headers={"Content-Type": "application/x-ndjson"}) as answer:
            content = await answer.read()
            statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
            if answer.status < 300:
                accepted.append((time.time(), orjson.loads(content).get("ids", [])))

    connector = aiohttp.TCPConnector(limit=256)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        for number in range(int(seconds / interval)):
            await asyncio.sleep(max(0.0, started + number * interval - time.perf_counter()))
            task = asyncio.create_task(post(session, bodies[number % len(bodies)]))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight, return_exceptions=True)
    _write_log(log, accepted)
    return {"requests": sum(statuses.values()), "statuses": statuses, "seconds": time.perf_counter() - started}


def run_wrk(url: str, bodies: Path, script: Path, connections: int, seconds: float, core: int) -> dict[str, Any]:
    command = wrk_command(url, script, connections, seconds)
    if shutil.which("taskset"):
        command = ["taskset", "-c", str(core), *command]
    env = {"BENCH_BODIES": str(bodies), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60, check=False)  # noqa: S603
    return parse_wrk(done.stdout + done.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("closed", "open"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", type=Path, required=True)
    parser.add_argument("--events-per-body", type=int, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="open loop: events per second")
    parser.add_argument("--log", type=Path, help="where accepted ids and the times of their 2xx go")
    parser.add_argument("--once", action="store_true", help="closed loop: send every body once, then stop")
    args = parser.parse_args(argv)
    bodies = read_bodies(args.bodies)
    if args.mode == "closed":
        result = asyncio.run(closed(args.url, bodies, args.connections, args.seconds, once=args.once, log=args.log))
    else:
        assert args.log is not None, "--log is required in open mode"
        result = asyncio.run(open_loop(args.url, bodies, args.events_per_body, args.rate, args.seconds, args.log))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
