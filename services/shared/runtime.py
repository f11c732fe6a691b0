"""Runs a service: bus, HTTP listeners and stages up; on SIGTERM stop accepting, drain, commit, exit 0."""

from __future__ import annotations

import asyncio
import gc
import signal
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from aiohttp import web

from services.shared.bus import Bus
from services.shared.errors import ConfigError
from services.shared.http import Readiness

log = structlog.get_logger()

# Under load the default (a young-generation collection every 700 allocations) cost an ingest
# process more than parsing did; 10,000 keeps the collections, just fewer (measured in issue 10).
_GC_YOUNG_THRESHOLD = 10_000


class Stage(Protocol):
    name: str

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until `stopping` is set, then finish the batch in hand and return."""
        ...


@dataclass
class Service:
    """What one `siem run …` starts. Stages are listed in pipeline order: they stop in that order."""

    name: str
    bus: Bus
    readiness: Readiness
    listeners: list[tuple[web.Application, int]] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)


async def serve(service: Service, host: str, shutdown_timeout_seconds: float = 25.0) -> int:
    """Run until SIGTERM/SIGINT or until a stage fails; returns the process exit code."""
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)

    await service.bus.start()
    runners = []
    for app, port in service.listeners:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout_seconds)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise ConfigError(f"{host}:{port}", f"cannot listen: {exc.strerror}") from None
        runners.append(runner)
    stoppers = [asyncio.Event() for _ in service.stages]
    tasks = [asyncio.create_task(s.run(stop), name=s.name) for s, stop in zip(service.stages, stoppers, strict=True)]
    settle_garbage_collector()
    service.readiness.ready = True
    log.info("service_started", ports=[port for _, port in service.listeners], stages=[s.name for s in service.stages])

    waiter = asyncio.create_task(stop_requested.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in tasks if t in done and t.exception() is not None]
    for task in failed:
        log.error("stage_failed", stage=task.get_name(), error=repr(task.exception()))
    waiter.cancel()

    service.readiness.ready = False
    log.info("service_stopping")
    for runner in runners:  # stop accepting first, and let requests in flight finish
        await runner.cleanup()
    exit_code = 1 if failed else 0
    for task, stop in zip(tasks, stoppers, strict=True):
        stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), shutdown_timeout_seconds)
        except TimeoutError:
            log.error("stage_drain_timeout", stage=task.get_name())
            task.cancel()
            exit_code = 1
        except Exception:  # already logged above as stage_failed
            exit_code = 1
    await service.bus.close()
    log.info("service_stopped", exit_code=exit_code)
    return exit_code


def settle_garbage_collector() -> None:
    """Start-up objects (rules, settings, libraries) live as long as the process: frozen, no collection rescans them."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, older, oldest)
