"""The real Loki and its gateway for the tests in this folder."""

from tests.loki.fixtures import loki, loki_service, tenant

__all__ = ["loki", "loki_service", "tenant"]
