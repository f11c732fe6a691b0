"""Loki's push API, both ways: decode what agents push to ingest, encode what the Loki sink sends."""
