"""Source registry: a source is a pure parser from a request body to envelopes.

Registry key = file stem = the `source` metric label. A new source is one file here and one
line in `build_sources`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.ingest.settings import IngestSettings
from services.ingest.sources.generic import GenericSource
from services.ingest.sources.jenkins import JenkinsSource
from services.ingest.sources.k8s_audit import K8sAuditSource
from services.ingest.sources.loki import LokiSource
from services.ingest.sources.parsed import Parsed, Rejected, Source
from services.ingest.sources.syslog import SyslogSource

__all__ = ["Parsed", "Rejected", "Source", "build_sources"]


def build_sources(settings: IngestSettings) -> dict[str, Source]:
    zone = ZoneInfo(settings.ingest_syslog_timezone)
    return {
        "generic": GenericSource(),
        "k8s_audit": K8sAuditSource(),
        "jenkins": JenkinsSource(),
        "loki": LokiSource(zone=zone, max_bytes=settings.ingest_loki_max_body_bytes),
        "syslog": SyslogSource(zone=zone),
    }
