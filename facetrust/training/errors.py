"""Typed errors of the training capability (all derive from FacetrustError)."""
from __future__ import annotations

from facetrust.errors import ConfigError, FacetrustError


class TrainingConfigError(ConfigError):
    """A training config file or ``--set`` override is malformed: unknown key, wrong type, missing file."""


class DatasetError(FacetrustError):
    """The image folder cannot make a training set: missing, empty, too few identities or images."""


class CheckpointError(FacetrustError):
    """A checkpoint is missing, unreadable, or was written for a different config."""
