"""Which changed files look sensitive: secrets, private keys, credentials, kube configs.

The list is deliberately broad (a SIEM would rather flag a false positive than miss a
committed key), except for the usual templates (`.env.example`) which hold no secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

# Matched against the lower-cased file name.
_NAMES = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.ppk",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "*.kubeconfig",
    "kubeconfig",
    "kubeconfig.*",
    "credentials",
    "credentials.json",
    "credentials.*",
    "*.credentials",
    ".git-credentials",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".htpasswd",
    ".dockercfg",
    "secrets.yml",
    "secrets.yaml",
    "secrets.json",
    "*.tfvars",
    "terraform.tfstate",
    "service-account*.json",
)
# Matched against the end of the lower-cased path.
_PATHS = (".kube/config", ".ssh/*", ".aws/credentials", ".aws/config", ".docker/config.json", ".gnupg/*")
_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".tmpl")


def is_sensitive(path: str) -> bool:
    lowered = path.lower()
    if lowered.endswith(_TEMPLATE_SUFFIXES):
        return False
    name = PurePosixPath(lowered).name
    if any(fnmatchcase(name, pattern) for pattern in _NAMES):
        return True
    return any(PurePosixPath(lowered).match(pattern) for pattern in _PATHS)


def sensitive_files(paths: Iterable[str]) -> list[str]:
    """The sensitive paths among `paths`, in first-seen order, each once."""
    return list(dict.fromkeys(path for path in paths if is_sensitive(path)))
