"""`rfc3339_utc` writes every moment as `astimezone(UTC).isoformat()` with a `Z` did: Alertmanager reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from services.shared.alert import rfc3339_utc


def _reference(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


_OFFSETS = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
_ZONES = st.one_of(st.just(UTC), _OFFSETS.map(timezone))
# Away from the ends of the calendar, where a shift to UTC would leave the years datetime holds.
_MOMENTS = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31))


@given(_MOMENTS, _ZONES)
def test_aware_moments_are_written_as_isoformat_did(moment: datetime, zone: timezone) -> None:
    """Any aware moment, in UTC or at an offset, with or without microseconds, gives the same text."""
    aware = moment.replace(tzinfo=zone)
    assert rfc3339_utc(aware) == _reference(aware)


def test_naive_and_subclassed_moments_are_written_as_isoformat_did() -> None:
    """A naive moment is local time, as astimezone takes it; a datetime subclass writes itself."""

    class Moment(datetime):
        pass

    naive = datetime(2026, 11, 26, 17, 3, 4, 500)
    subclassed = Moment(2026, 11, 26, 17, 3, 4, tzinfo=timezone(timedelta(hours=5)))
    assert rfc3339_utc(naive) == _reference(naive)
    assert rfc3339_utc(subclassed) == _reference(subclassed) == "2026-11-26T12:03:04Z"
