"""Differential-test helpers: events from rules and from the corpus, and pySigma's SQLite backend over them."""
