"""Event times as senders write them: epoch numbers (seconds or milliseconds) and RFC 3339 text.

Each parser returns an aware datetime or raises ValueError naming the field, for the item's
rejection reason.
"""

from __future__ import annotations

from datetime import UTC, datetime

EPOCH_MS_THRESHOLD = 10**11  # larger epoch numbers are milliseconds (as seconds they would be past the year 5000)


def epoch_time(value: float, where: str) -> datetime:
    """Epoch seconds, or milliseconds when the number is that large."""
    seconds = value / 1000 if value > EPOCH_MS_THRESHOLD else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"{where}: epoch {value!r} is out of range") from None


def text_time(value: str, where: str, expected: str = "RFC 3339") -> datetime:
    """RFC 3339 text; a time without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: not {expected}: {value[:64]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
