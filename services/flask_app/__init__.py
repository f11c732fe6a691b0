"""The sample Flask application the SIEM watches: not written yet; see the platform issue."""
