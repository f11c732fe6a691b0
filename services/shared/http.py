"""HTTP pieces every service shares: probes, `/metrics`, JSON errors."""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


class Readiness:
    """Set once the service can do its job (bus connected, listeners up), cleared when it stops."""

    def __init__(self) -> None:
        self.ready = False


READINESS = web.AppKey("readiness", Readiness)


def json_answer(data: Any, status: int = 200) -> web.Response:
    """What `web.json_response` answers, the JSON written by orjson (compact, UTF-8).

    The standard library's encoder showed in ingest's profiles (an answer lists a hundred ids).
    Text orjson refuses (a lone surrogate) is still written by the standard library.
    """
    try:
        body = orjson.dumps(data)
    except TypeError:
        body = json.dumps(data).encode()
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8")


def json_error(status: int, error: str, reason: str, **extra: Any) -> web.Response:
    """An error answer a client can act on: a stable `error` code and a human `reason`."""
    return json_answer({"error": error, "reason": reason, **extra}, status=status)


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    if request.app[READINESS].ready:
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "not ready"}, status=503)


async def _metrics(_: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


def create_probe_app(readiness: Readiness, **kwargs: Any) -> web.Application:
    """An application with `/healthz`, `/readyz` and `/metrics`; services add their own routes."""
    app = web.Application(**kwargs)
    app[READINESS] = readiness
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app
