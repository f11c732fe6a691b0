"""The error tree: one root, a few leaves that carry what the caller needs to act on them."""

from __future__ import annotations


class SiemError(Exception):
    """Root of every error the pipeline raises on purpose."""


class ConfigError(SiemError):
    """Bad configuration: fatal at start-up, names the setting at fault."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class ParseError(SiemError):
    """Input that cannot become an event: counted, dead-lettered, and the stream goes on.

    `error_type` is a short, bounded token (it becomes a metric label).
    """

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


class RuleError(SiemError):
    """A rule that cannot be loaded: collected at load time, never stops the other rules."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


class BusUnavailable(SiemError):
    """The bus cannot be reached for longer than the service may wait: the service stops."""


class RecordTooLarge(SiemError):
    """A record over what a topic takes: refused before it is sent, so it cannot stall its partition."""


class SinkError(SiemError):
    """A delivery that failed; `retriable` says whether trying again can help."""

    def __init__(self, sink: str, reason: str, *, retriable: bool) -> None:
        super().__init__(f"{sink}: {reason}")
        self.sink = sink
        self.reason = reason
        self.retriable = retriable
