"""Sigma rules: loaded with pySigma, compiled into matchers of our own."""
