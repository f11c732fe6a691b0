"""The real Loki and its gateway for the sink tests (tests/loki/fixtures.py)."""

from tests.loki.fixtures import loki, loki_service, tenant

__all__ = ["loki", "loki_service", "tenant"]
