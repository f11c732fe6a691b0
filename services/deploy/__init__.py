"""`siem deploy`: install, upgrade, roll back, inspect and render the Helm charts under charts/, through pyhelm3."""
