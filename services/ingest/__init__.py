"""Ingest: HTTP (and later syslog) listeners that turn what senders post into envelopes on `siem.events`."""
