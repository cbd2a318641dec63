"""Evaluation protocols and metrics (LFW View-2, pair lists)."""
