"""Why a check could not judge a face: stable, machine-readable codes.

Every ``unavailable`` liveness, forgery, attribute or head-pose result carries ``reason`` (a sentence for people, which
may change wording and holds the numbers) and ``reason_code`` (one of these, which does not
change): a client branches on the code, shows the sentence. Track and video decisions list the
codes of their frames in ``reason_codes``.
"""
from __future__ import annotations

from typing import Literal

ReasonCode = Literal[
    "grayscale",        # no colour: the model reads colour cues, or was calibrated on colour faces only
    "face_too_small",   # the face box's shorter side is under the check's minimum
    "tight_crop",       # the face fills the image: the model needs the scene (liveness) or the face's
                        # surroundings (forgery)
    "face_at_border",   # the face box reaches the image border: part of the face is missing
    "no_landmarks",     # the detector gave no landmarks, and every crop is cut from them
    "not_fitted",       # a cue model without a fitted calibration: features, no probability
    "too_few_samples",  # a track has too few sampled faces for the measure (identity drift)
    "no_face",          # no face in any sampled frame of a video
    "no_estimate",      # the model gave no estimate for this face (head pose: an empty box, no convergence)
]

#: Every code, for validation and documentation.
REASON_CODES: tuple[str, ...] = ReasonCode.__args__  # type: ignore[attr-defined]
