"""Pulumi component resources: the host (hcloud or existing) and its setup from the plan."""
