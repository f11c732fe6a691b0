"""Fixtures every test folder shares: the real Kafka broker and Alertmanager (one per session), the corpus,
a clean SIEM_ environment for every test, started `siem` processes, and logging put back after a test."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.infra import Alertmanager, KafkaBroker, SiemProcess, free_kafka_port, free_port

pytest_plugins = ["pytester"]

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone: no SIEM_ variable of the machine running the tests reaches it."""
    for name in list(os.environ):
        if name.startswith("SIEM_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A real single-node KRaft broker; a failure to start fails every test that uses it."""
    broker = KafkaBroker("kafka.sh", tmp_path_factory.mktemp("kafka"), free_kafka_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    """A real Alertmanager with a throw-away config and storage."""
    am = Alertmanager("alertmanager.sh", tmp_path_factory.mktemp("alertmanager"), free_port())
    am.start()
    try:
        yield am
    finally:
        am.stop()


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real payloads; absent only outside CI, where the test may skip."""
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{CORPUS} is missing in CI")
        pytest.skip("../shared/corpus is not here")
    return CORPUS


@pytest.fixture
def processes() -> Iterator[list[SiemProcess]]:
    """`siem` processes a test starts; each is terminated when the test ends, passed or failed."""
    started: list[SiemProcess] = []
    yield started
    for process in started:
        process.terminate()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo configure_logging's global effects (structlog config, context, root handlers) after the test."""
    handlers = list(logging.getLogger().handlers)
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    logging.getLogger().handlers[:] = handlers
