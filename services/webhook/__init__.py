"""Webhook receiver: Git hosts' deliveries, verified and deduplicated, as envelopes on `siem.events`."""
