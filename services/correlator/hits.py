"""A hit: one match of a rule that feeds a correlation, keyed so one group lands on one partition.

Stage 1 writes hits to `siem.hits`; stage 2 keeps the windows. A correlation's own alert
becomes a hit too when another correlation stands on it (chaining).

A msgspec Struct, not a pydantic model: stage 2 decodes one per record, and msgspec's typed
decode is several times faster (benchmarks/findings.md). The constructor performs no checks;
`from_json` checks every field as the model did (types, an aware time, count >= 1).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import orjson

from services.shared.alert import Scalar
from services.shared.envelope import AwareDatetime


class Hit(msgspec.Struct, frozen=True, kw_only=True):
    correlation: str  # id of the correlation rule this hit feeds
    rule: str  # id of the rule that matched (a detection, or a correlation when chained)
    time: AwareDatetime
    event_ids: list[str]
    group: dict[str, Scalar]
    value: Scalar = None  # the condition field's value, for value_* correlations
    modules: list[str] = msgspec.field(default_factory=list)  # event.module of the evidence, for the hunt query
    count: Annotated[int, msgspec.Meta(ge=1)] = 1  # events behind the hit: more than one for a chained correlation
    first_time: AwareDatetime | None = None  # earliest of those events, when not `time`

    @classmethod
    def from_json(cls, data: bytes) -> Hit:
        """The hit a `siem.hits` record holds; raises msgspec.DecodeError (ValidationError) naming what is wrong."""
        return _DECODER.decode(data)

    def to_json(self) -> bytes:
        """The record value for `siem.hits`."""
        return _ENCODER.encode(self)

    def key(self) -> str:
        """Correlation and group (sorted): the record key, so every hit of one window goes to the same partition."""
        return orjson.dumps([self.correlation, self.group], option=orjson.OPT_SORT_KEYS).decode()


_DECODER = msgspec.json.Decoder(Hit)
_ENCODER = msgspec.json.Encoder()
