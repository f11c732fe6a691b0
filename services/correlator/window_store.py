"""The live windows of one partition of `siem.hits`, small enough that a million groups fit in ~200 MB.

Most windows hold a single hit (one failed login from an address that never tries again). As
a `Window` with its list, dict and Entry that costs ~1 KB; packed, it is one bytes object of
~64 bytes: the entry as msgpack, with the rule id and the module list replaced by small codes.
A packed window is unpacked when a hit joins it or it is judged, and packed again while it
is still one hit and nothing else. Windows are keyed by correlation, then by the group as
sorted JSON (a str sized to its content), which is also where the alert's group is read from.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

import msgspec
import orjson

from services.correlator.windows import Entry, Window
from services.shared.alert import Scalar

T = TypeVar("T", bound=Hashable)
MAX_CODES = 65_536  # per table; values past it are stored as they are


class Codes(Generic[T]):
    """Small integers for values every window repeats (rule ids, module lists), stable for the engine's life."""

    def __init__(self, limit: int = MAX_CODES) -> None:
        self._codes: dict[T, int] = {}
        self._values: list[T] = []
        self._limit = limit  # the values come from records: the table must not grow without bound

    def code(self, value: T) -> int | T:
        code = self._codes.get(value)
        if code is not None:
            return code
        if len(self._values) >= self._limit:
            return value
        self._codes[value] = len(self._values)
        self._values.append(value)
        return len(self._values) - 1

    def value(self, code: int | T) -> T:
        return self._values[code] if isinstance(code, int) else code


class _Packed(msgspec.Struct, array_like=True, gc=False):
    """An Entry as packed. The last three fields are left out when they hold their usual values."""

    time: float
    sequence: int
    rule: int | str
    event_ids: tuple[str, ...]
    modules: int | tuple[str, ...]
    value: Scalar = None
    count: int = 1
    first: float | None = None  # None: the entry's own time


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Packed)


class WindowStore:
    def __init__(self, rules: Codes[str], modules: Codes[tuple[str, ...]]) -> None:
        self._rules = rules
        self._modules = modules
        self._windows: dict[str, dict[str, Window | bytes]] = {}  # correlation id -> group key -> window
        self._floor: dict[str, float] = {}  # correlation id -> no window is older than this (see `sweep`)

    def __len__(self) -> int:
        return sum(len(groups) for groups in self._windows.values())

    def get(self, correlation_id: str, group_key: str) -> Window | None:
        groups = self._windows.get(correlation_id)
        found = groups.get(group_key) if groups is not None else None
        if isinstance(found, bytes):
            return Window.holding(self._unpack(found))
        return found

    def put(self, correlation_id: str, group_key: str, window: Window) -> None:
        """Keep `window` (packed when it is one hit): it must be put back after every change."""
        entry = window.only_entry()
        packed = self._pack(entry) if entry is not None else None
        self._groups(correlation_id)[group_key] = window if packed is None else packed

    def put_new(self, correlation_id: str, group_key: str, entry: Entry) -> None:
        """Start the window of `group_key` with its first hit (what `put` of Window.holding(entry) keeps)."""
        packed = self._pack(entry)
        self._groups(correlation_id)[group_key] = Window.holding(entry) if packed is None else packed

    def _groups(self, correlation_id: str) -> dict[str, Window | bytes]:
        groups = self._windows.get(correlation_id)
        if groups is None:
            groups = self._windows[correlation_id] = {}
        return groups

    def sweep(self, watermark: float, timespan: Callable[[str], float]) -> None:
        """Drop the windows whose newest evidence is older than `watermark` minus their correlation's timespan.

        Hits behind the watermark are refused as late, so a window changed after a sweep is no
        older than that sweep's watermark: while the horizon has not passed the oldest window
        left by the last sweep, or that sweep's watermark, nothing can have expired.
        """
        for correlation_id, groups in self._windows.items():
            horizon = watermark - timespan(correlation_id)
            if horizon <= self._floor.get(correlation_id, float("-inf")):
                continue
            expired, floor = [], watermark
            for key, newest in self._newest(groups):
                if newest < horizon:
                    expired.append(key)
                elif newest < floor:
                    floor = newest
            for key in expired:
                del groups[key]
            self._floor[correlation_id] = floor

    def _newest(self, groups: dict[str, Window | bytes]) -> Iterator[tuple[str, float]]:
        for key, window in groups.items():
            yield key, _DECODER.decode(window).time if isinstance(window, bytes) else window.newest()

    def _pack(self, entry: Entry) -> bytes | None:
        fields: list[object] = [
            entry.time,
            entry.sequence,
            self._rules.code(entry.rule),
            entry.event_ids,
            self._modules.code(entry.modules),
        ]
        if entry.value is not None or entry.count != 1 or entry.first != entry.time:
            fields += [entry.value, entry.count, None if entry.first == entry.time else entry.first]
        try:
            return _ENCODER.encode(fields)
        except OverflowError:  # an integer value msgpack cannot hold: the window stays unpacked
            return None

    def _unpack(self, data: bytes) -> Entry:
        packed = _DECODER.decode(data)
        return Entry(
            packed.time,
            packed.sequence,
            self._rules.value(packed.rule),
            packed.event_ids,
            packed.value,
            self._modules.value(packed.modules),
            packed.count,
            packed.time if packed.first is None else packed.first,
        )


def group_key(group: dict[str, Scalar]) -> str:
    """The window key of a group: the same for the same names and values, whatever their order."""
    return orjson.dumps(group, option=orjson.OPT_SORT_KEYS).decode()


def group_of(key: str, names: tuple[str, ...]) -> dict[str, Scalar]:
    """The group a window key stands for, in the correlation's group-by order when the names are those."""
    group: dict[str, Scalar] = orjson.loads(key)
    if len(group) == len(names) and all(name in group for name in names):
        return {name: group[name] for name in names}
    return group
