"""Source registry: a source is a pure parser from a request body to envelopes.

Registry key = file stem = the `source` metric label. A new source is one file here and
one line in `SOURCES`.
"""

from __future__ import annotations

from services.ingest.sources.generic import GenericSource
from services.ingest.sources.parsed import Parsed, Rejected, Source

__all__ = ["SOURCES", "Parsed", "Rejected", "Source"]

SOURCES: dict[str, Source] = {
    "generic": GenericSource(),
}
