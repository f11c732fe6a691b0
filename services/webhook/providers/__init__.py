"""Provider registry: one file per Git host, each a pure verification and normalisation.

Registry key = file stem = the path `/webhook/<name>` = the logsource product = the
`provider` metric label. A new host is one file here and one line in `PROVIDERS`.
"""

from __future__ import annotations

from services.webhook.providers.base import Delivery, Keys, Normalised, Provider, Refusal
from services.webhook.providers.bitbucket import BitbucketProvider
from services.webhook.providers.gitea import GiteaProvider
from services.webhook.providers.github import GitHubProvider
from services.webhook.providers.gitlab import GitLabProvider

__all__ = ["PROVIDERS", "Delivery", "Keys", "Normalised", "Provider", "Refusal"]

PROVIDERS: dict[str, Provider] = {
    "github": GitHubProvider(),
    "gitlab": GitLabProvider(),
    "gitea": GiteaProvider(),
    "bitbucket": BitbucketProvider(),
}
