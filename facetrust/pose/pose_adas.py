"""OpenVINO Open Model Zoo ``head-pose-estimation-adas-0001`` (Intel, Apache-2.0): yaw, pitch, roll.

A CNN trained by Intel on labelled head poses; input 60x60 BGR 0..255, three outputs in degrees
(``angle_y_fc``, ``angle_p_fc``, ``angle_r_fc``; yaw in [-90, 90], pitch and roll in [-70, 70]
per its model card). The weights exist only as OpenVINO IR (FP16), so it runs on the
``openvino`` runtime (``pip install 'facetrust[openvino]'``). The crop is a square centred on
the detection box with side :data:`CROP_SCALE` x its longer side (chosen by flip symmetry and
roll recovery on UTKFace, docs/pose.md); the model's signs are mapped to the convention of
:mod:`facetrust.pose.base` (measured there too).
"""
from __future__ import annotations

from typing import Any, ClassVar

import cv2
import numpy as np

from facetrust.errors import DeviceUnavailableError, ModelError, ModelNotAvailableError
from facetrust.pose.base import HeadPose, check_box, check_image
from facetrust.registry import Option
from facetrust.runtime import cpu_threads
from facetrust.types import Detection, Face

SIZE = 60
CROP_SCALE = 1.2
#: Below this box side (pixels) no estimate is given: at 12 px yaw and pitch move by 5-6 degrees on
#: average from their full-size values, at 16 px by 3.0 and 4.6 (bench/pose_eval.py, docs/pose.md).
MIN_FACE_PX = 16
#: Model output -> sign in facetrust's convention: the model's pitch is > 0 looking down (docs/pose.md).
SIGNS = {"angle_y_fc": 1.0, "angle_p_fc": -1.0, "angle_r_fc": 1.0}


def _openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise ModelNotAvailableError("pose-adas needs the OpenVINO runtime: pip install 'facetrust[openvino]'") from None
    return openvino


class PoseAdas:
    name = "pose-adas"
    zoo_models: ClassVar[tuple[str, ...]] = ("head-pose-adas-0001",)
    OPTIONS: ClassVar[dict[str, Option]] = {"crop_scale": Option(float, 0.8, 2.0), "device": Option(str)}

    def __init__(self, crop_scale: float = CROP_SCALE, device: str = "cpu") -> None:
        if device != "cpu":
            raise DeviceUnavailableError(f"pose-adas runs on the CPU only (device {device!r} requested)")
        from facetrust.zoo import model_file

        ov = _openvino()
        xml, weights = model_file(self.zoo_models[0], 0), model_file(self.zoo_models[0], 1)
        try:
            core = ov.Core()
            self._compiled = core.compile_model(core.read_model(str(xml), str(weights)), "CPU",
                                                {"INFERENCE_NUM_THREADS": cpu_threads(),
                                                 "INFERENCE_PRECISION_HINT": "f32"})
        except Exception as exc:  # openvino raises untyped RuntimeErrors for bad files
            raise ModelError(f"{xml}: cannot load OpenVINO model ({exc})") from None
        self._outputs = {output.get_any_name(): output for output in self._compiled.outputs}
        if set(self._outputs) != set(SIGNS):
            raise ModelError(f"{xml}: outputs {sorted(self._outputs)}, expected {sorted(SIGNS)}")
        self.crop_scale = crop_scale

    def crop(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """The 60x60 RGB crop the model sees (black outside the image)."""
        x1, y1, x2, y2 = (float(v) for v in box)
        scale = SIZE / (self.crop_scale * max(x2 - x1, y2 - y1))
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        matrix = np.array([[scale, 0.0, SIZE / 2 - scale * cx], [0.0, scale, SIZE / 2 - scale * cy]])
        # Shrinking by more than 2x: area-average first, so the crop does not alias.
        return cv2.warpAffine(image, matrix, (SIZE, SIZE), flags=cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR,
                              borderValue=0)

    def estimate(self, image: np.ndarray, face: Face | Detection) -> HeadPose:
        check_image(image)
        check_box(face.box, MIN_FACE_PX, self.name)
        crop = self.crop(image, face.box)
        blob = np.ascontiguousarray(crop[..., ::-1].transpose(2, 0, 1)[None], dtype=np.float32)
        result = self._compiled(blob)
        angles = {name: SIGNS[name] * float(np.asarray(result[output]).ravel()[0])
                  for name, output in self._outputs.items()}
        return HeadPose(angles["angle_y_fc"], angles["angle_p_fc"], angles["angle_r_fc"], self.name)
