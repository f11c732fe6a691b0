"""A gateway in front of the real Loki, as production has one (nginx, Grafana's gateway): auth, and faults on demand.

It forwards the push and query APIs untouched, and tests can tell it to:
- check a credential (basic or bearer) the way a gateway does, 401 otherwise;
- answer 429/5xx for a while without forwarding, or after forwarding (a 2xx lost on the way);
- hold each answer for a moment (to kill a sink while its push is in flight).
It counts what Loki accepted, decoding pushes with Loki's own push.proto, so a reconciliation
can tell how many redelivered entries Loki dropped as identical.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hmac
import threading
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp
import cramjam
import orjson
from aiohttp import web

from tests.infra import free_port
from tests.loki.loki_proto import loki_push_pb2

_FORWARDED_HEADERS = ("Content-Type", "Content-Encoding", "X-Scope-OrgID")


@dataclass
class _Fault:
    status: int
    until: float | None
    times: int | None
    after_forwarding: bool

    def active(self) -> bool:
        return (self.until is None or time.monotonic() < self.until) and (self.times is None or self.times > 0)


class LokiGateway:
    """Runs on 127.0.0.1 in a thread of its own, so sync and async tests (and child processes) can use it."""

    def __init__(self, loki_url: str, *, basic_auth: tuple[str, str] | None = None, bearer: str | None = None) -> None:
        self.loki_url = loki_url.rstrip("/")
        self.port = free_port()
        self.delay_seconds = 0.0
        self.stats: Counter[str] = Counter()
        self._credential = _authorization(basic_auth, bearer)
        self._fault: _Fault | None = None
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="loki-gateway", daemon=True)
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(
        self, status: int, *, seconds: float | None = None, times: int | None = None, after_forwarding: bool = False
    ) -> None:
        """Answer `status` for `seconds` or `times` pushes; `after_forwarding` lets Loki store them first."""
        with self._lock:
            until = None if seconds is None else time.monotonic() + seconds
            self._fault = _Fault(status, until, times, after_forwarding)

    def heal(self) -> None:
        with self._lock:
            self._fault = None

    def start(self) -> LokiGateway:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Loki gateway did not start")
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            if self._session is not None:
                await self._session.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _push(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        self.stats[f"content_type={request.headers.get('Content-Type', '')}"] += 1
        self.stats[f"content_encoding={request.headers.get('Content-Encoding', '')}"] += 1
        if self._credential is not None and not hmac.compare_digest(
            request.headers.get("Authorization", "").encode(), self._credential
        ):
            return web.Response(status=401, text="unauthorized\n")
        fault = self._take_fault()
        if fault is not None and not fault.after_forwarding:
            return _fault_answer(fault.status)
        body = await request.read()
        status, text = await self._forward(request, body)
        if status < 300:
            self.stats["pushes_accepted"] += 1
            self.stats["entries_accepted"] += _count_entries(body, request.headers)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if fault is not None:
            return _fault_answer(fault.status)
        return web.Response(status=status, body=text)

    async def _query(self, request: web.Request) -> web.Response:
        status, text = await self._forward(request, None)
        return web.Response(status=status, body=text, content_type="application/json")

    async def _forward(self, request: web.Request, body: bytes | None) -> tuple[int, bytes]:
        assert self._session is not None
        headers = {name: request.headers[name] for name in _FORWARDED_HEADERS if name in request.headers}
        async with self._session.request(
            request.method, self.loki_url + request.path_qs, data=body, headers=headers
        ) as answer:
            return answer.status, await answer.read()

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None or not fault.active():
                return None
            if fault.times is not None:
                fault.times -= 1
            self.stats[f"faults_{fault.status}"] += 1
            return fault

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/loki/api/v1/push", self._push)
        app.router.add_get("/loki/api/v1/{api:.*}", self._query)
        # Bodies pass through as sent (compressed), exactly as the sink wrote them.
        self._runner = web.AppRunner(app, access_log=None, auto_decompress=False)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._session = self._loop.run_until_complete(_client_session())
        self._ready.set()
        self._loop.run_forever()


async def _client_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(auto_decompress=False)  # bound to the gateway's own loop


def _authorization(basic: tuple[str, str] | None, bearer: str | None) -> bytes | None:
    if basic is not None:
        return b"Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode())
    return None if bearer is None else f"Bearer {bearer}".encode()


def _fault_answer(status: int) -> web.Response:
    reasons = {429: "Ingestion rate limit exceeded (injected by the gateway)", 500: "internal error (injected)"}
    return web.Response(status=status, text=reasons.get(status, "injected failure") + "\n")


def _count_entries(body: bytes, headers: object) -> int:
    """Entries in a push Loki accepted, read with Loki's own push.proto (or as Loki's JSON)."""
    get = headers.get  # type: ignore[attr-defined]
    if get("Content-Type", "").split(";")[0].strip() == "application/json":
        raw = gzip.decompress(body) if get("Content-Encoding", "") == "gzip" else body
        return sum(len(stream["values"]) for stream in orjson.loads(raw)["streams"])
    request = loki_push_pb2().PushRequest()
    request.ParseFromString(bytes(cramjam.snappy.decompress_raw(body)))
    return sum(len(stream.entries) for stream in request.streams)
