"""Git hosts (GitHub, GitLab, Gitea, Bitbucket webhooks): pushes, force pushes and branch protection changes.

Streams are narrowed by the `dataset` label (`<provider>.<event family>`) before any line is
parsed: pushes are `github.push`, `gitlab.push`, `gitea.push` and Bitbucket's `repo` family.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as grafana

from dashboards.source.panels import (
    event_table,
    logql,
    loki_dashboard,
    series,
    single,
    top,
)

UID = "siem-git"
PUSHES = (
    '{module="git", dataset=~".+[.](push|repo)", env=~"$env"} '
    '| json action="event.action", provider="event.provider", actor="user.name", repository="git.repository", '
    'branch="git.branch", forced="git.forced", before="git.before", after="git.after" | __error__="" '
    '| action=~"push|repo[.](push|refs_changed)"'
)
FORCED = f'{PUSHES} | forced="true"'
# GitHub and Gitea report branch protection (rules, rulesets); GitLab and Bitbucket send no webhook for it.
PROTECTION = (
    '{module="git", dataset=~".+[.](branch_protection_rule|branch_protection_configuration|repository_ruleset)", '
    'env=~"$env"} | json action="event.action", provider="event.provider", actor="user.name", '
    'repository="git.repository", rule="raw.rule.name", ruleset="raw.repository_ruleset.name" | __error__=""'
)


def build() -> grafana.Dashboard:
    return (
        loki_dashboard(
            UID,
            "SIEM Git activity",
            "Pushes, force pushes and branch protection changes reported by the Git hosts' webhooks.",
            '{module="git"}',
        )
        .with_row(grafana.Row("Pushes"))
        .with_panel(
            single(
                "Pushes",
                "Pushes received in the time range, every host and repository.",
                logql(f"sum(count_over_time({PUSHES} [$__range]))", instant=True),
            )
        )
        .with_panel(
            single(
                "Force pushes",
                "Pushes that rewrote history (the host's `forced` flag) in the time range.",
                logql(f"sum(count_over_time({FORCED} [$__range]))", instant=True),
            )
        )
        .with_panel(
            single(
                "Branch protection changes",
                "Branch protection rules and rulesets created, edited or deleted in the time range.",
                logql(f"sum(count_over_time({PROTECTION} [$__range]))", instant=True),
            )
        )
        .with_panel(
            single(
                "Repositories pushed to",
                "Distinct repositories that received a push in the time range.",
                logql(
                    f'count(sum by (repository) (count_over_time({PUSHES} | repository!="" [$__range])))', instant=True
                ),
            )
        )
        .with_panel(
            series(
                "Pushes by repository",
                "Pushes per interval to each repository.",
                logql(f"sum by (repository) (count_over_time({PUSHES} [$__auto]))", legend="{{repository}}"),
                stacked=True,
                bars=True,
            ).span(16)
        )
        .with_panel(
            top(
                "Top pushers",
                "The accounts (ECS user.name: the pusher) with the most pushes over the time range.",
                logql(
                    f'topk(10, sum by (actor) (count_over_time({PUSHES} | actor!="" [$__range])))',
                    legend="{{actor}}",
                    instant=True,
                ),
            )
        )
        .with_row(grafana.Row("Force pushes and protection"))
        .with_panel(
            event_table(
                "Every force push",
                "Every force push, newest first: who rewrote which branch of which repository, and the commits "
                "before and after (the old one is what was overwritten).",
                logql(FORCED, max_lines=500),
                {
                    "provider": "Host",
                    "repository": "Repository",
                    "branch": "Branch",
                    "actor": "Pusher",
                    "before": "Before",
                    "after": "After",
                },
            )
        )
        .with_panel(
            event_table(
                "Every branch protection change",
                "Every change to branch protection, newest first: removing or weakening one usually precedes a "
                "force push or an unreviewed merge.",
                logql(PROTECTION, max_lines=500),
                {
                    "provider": "Host",
                    "repository": "Repository",
                    "action": "Change",
                    "rule": "Rule",
                    "ruleset": "Ruleset",
                    "actor": "By",
                },
            )
        )
    )
