"""Code every service uses: the event and alert records, settings, bus, logging, metrics, HTTP."""
