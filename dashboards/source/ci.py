"""CI activity: Jenkins builds by result, the jobs that fail, Jenkins' own audit trail, and Git hosts' CI runs.

The Jenkins Notification plugin posts one event per build phase; a build is counted once, at its
last phase (`FINALIZED`, or `FINISHED` from older plugin releases), which carries the result.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as grafana

from dashboards.source.panels import (
    event_table,
    logql,
    loki_dashboard,
    series,
    top,
)

UID = "siem-ci"
BUILDS = (
    '{module="jenkins", dataset="jenkins.build", env=~"$env"} '
    '| json job="raw.name", number="raw.build.number", phase="raw.build.phase", result="raw.build.status", '
    'url="raw.build.full_url", branch="raw.build.scm.branch" | __error__="" | phase=~"FINALIZED|FINISHED"'
)
JENKINS_AUDIT = (
    '{module="jenkins", dataset="jenkins.audit", env=~"$env"} '
    '| json action="event.action", user="user.name", source_ip="source.ip", target="url.path" | __error__=""'
)
# Workflow runs (GitHub, Gitea) and pipelines (GitLab) as their hosts report them.
RUNS = (
    '{module="git", dataset=~"(github|gitea)[.]workflow_run|gitlab[.]pipeline", env=~"$env"} '
    '| json action="event.action", outcome="event.outcome", repository="git.repository" | __error__="" '
    '| action=~"workflow_run[.]completed|pipeline[.](success|failed|canceled)"'
)


def build() -> grafana.Dashboard:
    return (
        loki_dashboard(
            UID,
            "SIEM CI activity",
            "Jenkins builds by result and by job, Jenkins logins and configuration changes, and Git hosts' CI runs.",
            '{module=~"jenkins|git"}',
        )
        .with_row(grafana.Row("Jenkins builds"))
        .with_panel(
            series(
                "Builds by result",
                "Finished Jenkins builds per interval by result (SUCCESS, FAILURE, UNSTABLE, ABORTED …).",
                logql(f"sum by (result) (count_over_time({BUILDS} [$__auto]))", legend="{{result}}"),
                stacked=True,
                bars=True,
            ).span(16)
        )
        .with_panel(
            top(
                "Failing jobs",
                "Jobs with the most builds that did not succeed (FAILURE, UNSTABLE, ABORTED) over the time range.",
                logql(
                    f"topk(10, sum by (job) (count_over_time({BUILDS} "
                    '| result=~"FAILURE|UNSTABLE|ABORTED" [$__range])))',
                    legend="{{job}}",
                    instant=True,
                ),
            )
        )
        .with_panel(
            event_table(
                "Recent builds",
                "Finished builds, newest first, with their result and where to find them in Jenkins.",
                logql(BUILDS, max_lines=500),
                {"job": "Job", "number": "Build", "result": "Result", "branch": "Branch", "url": "URL"},
            )
        )
        .with_row(grafana.Row("Jenkins audit"))
        .with_panel(
            series(
                "Jenkins audit actions",
                "Logins, login failures, configuration and credential changes and script console use per interval, "
                "as the audit hook reports them (docs/ingest/jenkins.md).",
                logql(f"sum by (action) (count_over_time({JENKINS_AUDIT} [$__auto]))", legend="{{action}}"),
                stacked=True,
                bars=True,
            ).span(16)
        )
        .with_panel(
            top(
                "Jenkins login failures by address",
                "Addresses with the most failed Jenkins logins over the time range.",
                logql(
                    f'topk(10, sum by (source_ip) (count_over_time({JENKINS_AUDIT} | action="login_failure" '
                    '| source_ip!="" [$__range])))',
                    legend="{{source_ip}}",
                    instant=True,
                ),
            )
        )
        .with_row(grafana.Row("Git hosts' CI"))
        .with_panel(
            series(
                "Git host CI runs by outcome",
                "Finished GitHub and Gitea workflow runs and GitLab pipelines per interval, by outcome.",
                logql(f"sum by (outcome) (count_over_time({RUNS} [$__auto]))", legend="{{outcome}}"),
                stacked=True,
                bars=True,
            ).span(24)
        )
    )
