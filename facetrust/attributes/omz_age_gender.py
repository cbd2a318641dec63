"""OpenVINO Open Model Zoo ``age-gender-recognition-retail-0013`` (Intel, Apache-2.0): age and
gender from one 62x62 network. A zoo model (``age-gender-0013``) run on the ``openvino`` runtime
(``pip install 'facetrust[openvino]'``); its weights exist only as OpenVINO IR.

Input: the detector's box scaled by :data:`BOX_SCALE` about its centre (the model was trained on
unaligned detector crops: the dlib chip scored worse), resized to 62x62, BGR 0..255. Outputs:
``age_conv3`` = age / 100 and ``prob`` = (female, male). Trained on ages 18-75: it is not meant
for children, and on UTKFace it is less accurate than dlib's model (docs/attributes.md), so it is
registered as ``age-omz`` / ``gender-omz``, not the default.
"""
from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from facetrust.attributes.age import AgeModel
from facetrust.attributes.gender import GenderModel
from facetrust.attributes.inputs import FaceInputs
from facetrust.errors import ModelError, ModelNotAvailableError
from facetrust.registry import Option

INPUT_SIZE = 62
#: Box enlargement, chosen on UTKFace's calibration half from 1.0 / 1.2 / 1.4 (docs/attributes.md).
BOX_SCALE = 1.2
ZOO_MODEL = "age-gender-0013"


def box_crop(image: np.ndarray, box: tuple[float, ...], scale: float, size: int = INPUT_SIZE) -> np.ndarray:
    """The box scaled by ``scale`` about its centre, resized to ``size`` x ``size`` (edges replicated)."""
    x1, y1, x2, y2 = box[:4]
    width, height = (x2 - x1) * scale, (y2 - y1) * scale
    left, top = (x1 + x2 - width) / 2, (y1 + y2 - height) / 2
    warp = np.float32([[size / width, 0, -left * size / width], [0, size / height, -top * size / height]])
    shrink = cv2.INTER_AREA if width > 2 * size else cv2.INTER_LINEAR
    return cv2.warpAffine(np.ascontiguousarray(image), warp, (size, size), flags=shrink,
                          borderMode=cv2.BORDER_REPLICATE)


class OmzAgeGenderNetwork:
    """The compiled network; :meth:`outputs` gives (ages in years, (female, male) probabilities)."""

    OPTIONS: ClassVar[dict[str, Option]] = {"box_scale": Option(float, 1.0, 2.0)}

    def __init__(self, box_scale: float = BOX_SCALE) -> None:
        from facetrust.runtime import cpu_threads
        from facetrust.zoo import model_file

        try:
            import openvino
        except ImportError:
            raise ModelNotAvailableError(f"{self.name} needs the OpenVINO runtime: "
                                         "pip install 'facetrust[openvino]'") from None
        xml, weights = model_file(ZOO_MODEL, 0), model_file(ZOO_MODEL, 1)
        try:
            core = openvino.Core()
            network = core.read_model(str(xml), str(weights))
            network.reshape({network.inputs[0]: openvino.PartialShape([-1, 3, INPUT_SIZE, INPUT_SIZE])})
            self._compiled = core.compile_model(network, "CPU", {"INFERENCE_NUM_THREADS": cpu_threads(),
                                                                 "INFERENCE_PRECISION_HINT": "f32"})
        except Exception as exc:  # openvino raises untyped RuntimeErrors for bad files
            raise ModelError(f"{xml}: cannot load OpenVINO model ({exc})") from None
        self.box_scale = box_scale

    def outputs(self, faces: list[FaceInputs]) -> tuple[np.ndarray, np.ndarray]:
        crops = np.stack([box_crop(face.image, face.box, self.box_scale) for face in faces])
        batch = np.ascontiguousarray(crops[..., ::-1].astype(np.float32).transpose(0, 3, 1, 2))  # RGB -> BGR NCHW
        result = self._compiled(batch)
        ages = np.asarray(result["age_conv3"], dtype=np.float64).reshape(len(faces)) * 100.0
        return ages, np.asarray(result["prob"], dtype=np.float64).reshape(len(faces), 2)


class OmzAge(AgeModel, OmzAgeGenderNetwork):
    name = "age-omz"
    zoo_models: tuple[str, ...] = (ZOO_MODEL,)
    model = "omz-age-gender-0013"

    def ages(self, faces: list[FaceInputs]) -> np.ndarray:
        return self.outputs(faces)[0]


class OmzGender(GenderModel, OmzAgeGenderNetwork):
    name = "gender-omz"
    zoo_models: tuple[str, ...] = (ZOO_MODEL,)
    model = "omz-age-gender-0013"

    def probabilities(self, faces: list[FaceInputs]) -> np.ndarray:
        return self.outputs(faces)[1]
