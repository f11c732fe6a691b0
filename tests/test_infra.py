"""The test set-up itself: a real service that cannot start fails the tests that need it, never skips them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.infra import Alertmanager, KafkaBroker, ServiceDidNotStart, free_kafka_port


def test_alertmanager_on_a_taken_port_does_not_start(tmp_path: Path) -> None:
    """Starting Alertmanager where the port is taken raises ServiceDidNotStart with the reason."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ServiceDidNotStart):
            Alertmanager("alertmanager.sh", tmp_path, taken.getsockname()[1]).start()


def test_kafka_on_a_taken_port_does_not_start(tmp_path: Path) -> None:
    """Starting the broker where its port is taken raises ServiceDidNotStart."""
    port = free_kafka_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(ServiceDidNotStart):
            KafkaBroker("kafka.sh", tmp_path, port).start()


def test_a_test_whose_service_did_not_start_is_an_error_not_a_skip(pytester: pytest.Pytester) -> None:
    """A test using a service fixture that fails to start is reported as an error, and the run fails."""
    pytester.makepyfile(
        """
        import socket
        import pytest
        from tests.infra import Alertmanager

        @pytest.fixture
        def broken_alertmanager(tmp_path):
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen()
                am = Alertmanager("alertmanager.sh", tmp_path, taken.getsockname()[1])
                am.start()
                yield am

        def test_needs_alertmanager(broken_alertmanager):
            assert broken_alertmanager
        """
    )
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1, skipped=0, passed=0)
    assert result.ret != 0
