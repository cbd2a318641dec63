"""``minifasnet+cues``: MiniFASNet with the frequency (moiré) cue beside it.

The rule, documented in docs/liveness.md:

* **unfitted** (no calibration): the score is MiniFASNet's fused P(live), unchanged —
  the cue has no validated direction or threshold, so it is reported in
  ``model_scores`` for inspection but does not vote;
* **fitted** (``facetrust liveness fit --model minifasnet+cues``): a logistic
  regression on the log-odds of all four members (the two networks' P(live),
  ``moire_hf_share``, ``moire_peak_share``) learns from the deployment's labelled
  data how much each one counts, and its threshold is set at the target APCER.

Because the unfitted score is defined, the existing ``fit`` command fits this model
as it is. The 60 colour-texture bins are left out on purpose: with a few dozen
labelled images, 60 extra weights would fit noise.
"""
from __future__ import annotations

import numpy as np

from facetrust.liveness.base import Box, LivenessScores
from facetrust.liveness.frequency import FrequencyCue
from facetrust.liveness.minifasnet import MiniFASNetFused


class MiniFASNetWithCues:
    name = "minifasnet+cues"
    zoo_models = MiniFASNetFused.zoo_models + FrequencyCue.zoo_models

    def __init__(self, device: str = "cpu") -> None:
        self.network = MiniFASNetFused(device)
        self.cue = FrequencyCue(device)
        self.device = device

    @property
    def scales(self) -> tuple[float, ...]:
        return self.network.scales + self.cue.scales

    def predict(self, image: np.ndarray, box: Box) -> LivenessScores:
        network = self.network.predict(image, box)
        return LivenessScores(network.score, {**network.model_scores, **self.cue.predict(image, box).model_scores})
