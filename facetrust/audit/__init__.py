"""Audits: fairness across identities and demographic groups, robustness to perturbations."""
