"""Correlator: applies Sigma rules to envelopes and raises alerts; its `sinks` deliver them."""
