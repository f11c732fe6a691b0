"""The real services the benchmarks need, on 127.0.0.1 with throw-away state, and the processes they start.

Kafka (scripts/kafka.sh), Alertmanager (scripts/alertmanager.sh) and Loki (the binary
tests/loki/loki_service.py builds and caches) are started the way the integration tests
start them, through the same helpers, the first time a benchmark asks, and stopped at the
end of the run. Every process started here is stopped by its own pid, never by name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO

from benchmarks.commands import ROOT, pinned
from tests.infra import Alertmanager, KafkaBroker, free_kafka_port, free_port
from tests.loki.loki_service import LokiService


class Stack:
    def __init__(self, work: Path) -> None:
        self.work = work
        self._kafka: KafkaBroker | None = None
        self._alertmanager: Alertmanager | None = None
        self._loki: LokiService | None = None
        self._processes: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def kafka(self) -> KafkaBroker:
        if self._kafka is None:
            broker = KafkaBroker("kafka.sh", self.work / "kafka", free_kafka_port())
            broker.data_dir.mkdir(parents=True, exist_ok=True)
            broker.start()
            self._kafka = broker
        return self._kafka

    def alertmanager(self) -> Alertmanager:
        if self._alertmanager is None:
            manager = Alertmanager("alertmanager.sh", self.work / "alertmanager", free_port())
            manager.data_dir.mkdir(parents=True, exist_ok=True)
            manager.start()
            self._alertmanager = manager
        return self._alertmanager

    def loki(self) -> LokiService:
        if self._loki is None:
            self._loki = LokiService(self.work / "loki").start()
        return self._loki

    def spawn(
        self, name: str, command: list[str], env: dict[str, str], *, core: int | None, ready_url: str | None
    ) -> subprocess.Popen[bytes]:
        """Start a process (logging to a file in the scratch folder) and wait until `ready_url` answers 200."""
        log = (self.work / f"{name}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own commands
            pinned(command, core) if core is not None else command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            cwd=ROOT,
        )
        self._processes.append((process, log))
        if ready_url is not None:
            self._wait(name, process, ready_url)
        return process

    def log_tail(self, name: str, size: int = 2000) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def _wait(self, name: str, process: subprocess.Popen[bytes], url: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited {process.returncode}: {self.log_tail(name)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback only
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready at {url} after {timeout}s: {self.log_tail(name)}")

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        """Stop everything started, newest first; one that will not stop does not keep the others running."""
        stoppers: list[Callable[[], None]] = [partial(self.stop, p) for p, _ in reversed(self._processes)]
        stoppers += [s.stop for s in (self._loki, self._alertmanager, self._kafka) if s is not None]
        for stop in stoppers:
            try:
                stop()
            except BaseException as exc:  # noqa: BLE001 - a Ctrl-C while stopping must not leave a broker behind
                print(f"could not stop a service: {exc!r}", file=sys.stderr)
        for _, log in self._processes:
            log.close()
        self._processes.clear()
        self._kafka = self._alertmanager = self._loki = None
