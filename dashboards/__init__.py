"""Grafana dashboards of the SIEM: JSON files generated from `dashboards.source` (see README.md)."""
