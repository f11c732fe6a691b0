"""The SIEM pipeline's services: one package per stage, shared code in `shared`."""
