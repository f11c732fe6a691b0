"""The window store: a one-hit window is kept packed and small, and comes back exactly as it went in."""

from __future__ import annotations

import sys

from services.correlator.window_store import Codes, WindowStore, group_key, group_of
from services.correlator.windows import Entry, Window

RULE = "7a2b5c1e-0f3d-4d8e-9b6a-1c2d3e4f5a60"
CORRELATION = "7a2b5c1e-0f3d-4d8e-9b6a-1c2d3e4f5a61"
KEY = group_key({"source.ip": "10.1.2.3"})


def store(limit: int = 100) -> WindowStore:
    return WindowStore(Codes(limit), Codes(limit))


def stored(windows: WindowStore) -> object:
    return windows._windows[CORRELATION][KEY]


def test_a_one_hit_window_is_kept_in_under_100_bytes() -> None:
    """A window that is a single hit (the usual case: a million of them must fit in 300 MB) is one small object."""
    windows = store()
    windows.put_new(
        CORRELATION,
        KEY,
        Entry(1714564800.0018, 123_456, RULE, ("evt-00000001",), None, ("system",), 1, 1714564800.0018),
    )
    assert isinstance(stored(windows), bytes) and sys.getsizeof(stored(windows)) < 100


def test_a_packed_window_unpacks_to_the_same_entry() -> None:
    """Time, arrival, rule, events, value, modules, count and first time all survive packing."""
    entry = Entry(1714564800.25, 7, RULE, ("a", "b"), 12.5, ("system", "auditd"), 3, 1714564700.0)
    windows = store()
    windows.put_new(CORRELATION, KEY, entry)
    window = windows.get(CORRELATION, KEY)
    assert window is not None and window.entries == [entry] and window.newest() == entry.time
    assert not window.add(entry)  # its evidence is remembered: a redelivery is not counted again


def test_values_past_the_code_limit_are_kept_as_they_are() -> None:
    """The code tables are bounded; a rule id or module list they cannot code is packed literally."""
    entry = Entry(1.0, 1, RULE, ("a",), "text", ("github",), 1, 1.0)
    windows = store(limit=0)
    windows.put_new(CORRELATION, KEY, entry)
    assert isinstance(stored(windows), bytes)
    window = windows.get(CORRELATION, KEY)
    assert window is not None and window.entries == [entry]


def test_an_integer_msgpack_cannot_hold_keeps_the_window_unpacked() -> None:
    """A value beyond 64 bits (JSON allows it) does not fail the hit: that window stays a Window."""
    entry = Entry(1.0, 1, RULE, ("a",), 10**30, (), 1, 1.0)
    windows = store()
    windows.put_new(CORRELATION, KEY, entry)
    assert isinstance(stored(windows), Window)
    window = windows.get(CORRELATION, KEY)
    assert window is not None and window.entries == [entry]


def test_a_window_with_consumed_evidence_stays_unpacked() -> None:
    """Once a window remembers more than its one hit, packing would forget evidence: it is kept whole."""
    windows = store()
    window = Window.holding(Entry(1.0, 1, RULE, ("a",)))
    window.add(Entry(2.0, 2, RULE, ("b",)))
    del window.entries[1:]  # as `fire` consumes
    windows.put(CORRELATION, KEY, window)
    assert stored(windows) is window


def test_sweep_drops_windows_older_than_the_horizon_packed_or_not() -> None:
    """A window whose newest evidence is before the horizon goes; one exactly on it stays."""
    windows = store()
    old, edge = group_key({"source.ip": "old"}), group_key({"source.ip": "edge"})
    windows.put_new(CORRELATION, old, Entry(9.999, 1, RULE, ("a",)))
    windows.put_new(CORRELATION, edge, Entry(10.0, 2, RULE, ("b",)))
    windows.put(CORRELATION, KEY, Window.holding(Entry(5.0, 3, RULE, ("c",), 10**30)))
    windows.sweep(20.0, lambda correlation_id: 10.0)
    assert len(windows) == 1 and windows.get(CORRELATION, edge) is not None


def test_the_group_comes_back_in_group_by_order() -> None:
    """The key is sorted JSON; the alert's group is in the correlation's group-by order again."""
    key = group_key({"user.name": "bob", "source.ip": "10.0.0.1"})
    assert group_key({"source.ip": "10.0.0.1", "user.name": "bob"}) == key
    assert list(group_of(key, ("user.name", "source.ip"))) == ["user.name", "source.ip"]
    assert group_of(key, ("host.name",)) == {"source.ip": "10.0.0.1", "user.name": "bob"}


def test_group_values_of_other_types_are_other_groups() -> None:
    """1, 1.0, true and "1" are four groups, as their JSON differs, and each reads back as it was."""
    groups = [{"n": 1}, {"n": 1.0}, {"n": True}, {"n": "1"}]
    keys = {group_key(g) for g in groups}
    assert len(keys) == 4
    assert [group_of(group_key(g), ("n",)) for g in groups] == groups
    assert [type(group_of(group_key(g), ("n",))["n"]) for g in groups] == [int, float, bool, str]


def test_a_sweep_after_a_sweep_still_finds_what_expired_since() -> None:
    """Skipping scans while nothing can have expired must not keep a window past its horizon."""
    windows = store()
    windows.put_new(CORRELATION, KEY, Entry(100.0, 1, RULE, ("a",)))
    windows.sweep(100.0, lambda correlation_id: 10.0)  # horizon 90: it stays
    windows.put_new(CORRELATION, group_key({"source.ip": "new"}), Entry(105.0, 2, RULE, ("b",)))
    windows.sweep(105.0, lambda correlation_id: 10.0)  # horizon 95: nothing older, no scan needed
    assert len(windows) == 2
    windows.sweep(110.001, lambda correlation_id: 10.0)  # horizon 100.001: the first goes
    assert len(windows) == 1 and windows.get(CORRELATION, KEY) is None
    windows.sweep(115.001, lambda correlation_id: 10.0)
    assert len(windows) == 0
