"""Session-wide real services: one Kafka broker and one Alertmanager, started once, stopped at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra import Alertmanager, KafkaBroker, free_kafka_port, free_port

pytest_plugins = ["pytester"]

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


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
