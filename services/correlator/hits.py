"""A hit: one match of a rule that feeds a correlation, keyed so one group lands on one partition.

Stage 1 writes hits to `siem.hits`; stage 2 keeps the windows. A correlation's own alert
becomes a hit too when another correlation stands on it (chaining).
"""

from __future__ import annotations

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.shared.alert import Scalar


class Hit(BaseModel):
    model_config = ConfigDict(frozen=True)

    correlation: str  # id of the correlation rule this hit feeds
    rule: str  # id of the rule that matched (a detection, or a correlation when chained)
    time: AwareDatetime
    event_ids: list[str]
    group: dict[str, Scalar]
    value: Scalar = None  # the condition field's value, for value_* correlations
    modules: list[str] = Field(default_factory=list)  # event.module of the evidence, for the hunt query
    count: int = Field(default=1, ge=1)  # events behind the hit: more than one for a chained correlation
    first_time: AwareDatetime | None = None  # earliest of those events, when not `time`

    def key(self) -> str:
        """Correlation and group: every hit of one window goes to the same partition.

        A str, not orjson's bytes: those keep orjson's 4 KiB output buffer, and a window key
        lives as long as its window (a million live windows would hold 4 GB of it).
        """
        return orjson.dumps([self.correlation, self.group], option=orjson.OPT_SORT_KEYS).decode()
