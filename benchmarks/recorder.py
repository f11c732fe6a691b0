"""A pass-through in front of Loki and Alertmanager that notes when each push was answered 2xx.

    python -m benchmarks.recorder --loki URL --alertmanager URL --loki-port P --am-port Q --out FILE

The sinks post to it as they would to the real services; it forwards each request untouched,
returns the real answer, and for every 2xx appends the moment of the answer and the body to
FILE. The end-to-end benchmark decodes the file afterwards (event ids from Loki's structured
metadata, from the alerts' `event_ids` annotation), so nothing heavy happens on the path.
Record format: one JSON header line {"t", "kind", "type", "encoding", "size"}, then the body.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import aiohttp
import orjson
from aiohttp import web

_FORWARDED = ("Content-Type", "Content-Encoding", "X-Scope-OrgID")


def _proxy(kind: str, upstream: str, out: IO[bytes], session: aiohttp.ClientSession) -> web.Application:
    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {h: request.headers[h] for h in _FORWARDED if h in request.headers}
        async with session.request(request.method, upstream + request.path_qs, data=body, headers=headers) as answer:
            content = await answer.read()
            answered = time.time()
            if answer.status < 300 and request.method == "POST":
                header = {
                    "t": answered,
                    "kind": kind,
                    "type": request.headers.get("Content-Type", ""),
                    "encoding": request.headers.get("Content-Encoding", ""),
                    "size": len(body),
                }
                out.write(orjson.dumps(header) + b"\n" + body)
            return web.Response(status=answer.status, body=content, content_type=answer.content_type)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def serve(loki: str, alertmanager: str, loki_port: int, am_port: int, out_path: Path) -> None:
    out = out_path.open("ab", buffering=0)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for kind, upstream, port in (("loki", loki, loki_port), ("am", alertmanager, am_port)):
            runner = web.AppRunner(_proxy(kind, upstream.rstrip("/"), out, session), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
        print("listening", flush=True)
        await asyncio.Event().wait()


def records(path: Path) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Every recorded 2xx: its header and body."""
    data = path.read_bytes() if path.exists() else b""
    position = 0
    while position < len(data):
        end = data.index(b"\n", position)
        header = orjson.loads(data[position:end])
        body = data[end + 1 : end + 1 + header["size"]]
        position = end + 1 + header["size"]
        yield header, body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loki", required=True)
    parser.add_argument("--alertmanager", required=True)
    parser.add_argument("--loki-port", type=int, required=True)
    parser.add_argument("--am-port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.loki, args.alertmanager, args.loki_port, args.am_port, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
