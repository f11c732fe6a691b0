"""Git webhook receiver (GitHub, GitLab, Gitea, Bitbucket): not written yet; see its issue."""
