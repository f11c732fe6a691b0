"""Linux logs as events: syslog headers, the messages of sshd, sudo, PAM, shadow-utils, auditd and dpkg,
and the UDP/TCP listeners that receive them."""

from services.ingest.syslog.line import LineContext, parse_journal, parse_line, syslog_event

__all__ = ["LineContext", "parse_journal", "parse_line", "syslog_event"]
