from __future__ import annotations

import subprocess
import sys

import pytest

from facetrust.detection import DETECTORS
from facetrust.errors import ConfigError, DeviceUnavailableError
from facetrust.recognition import RECOGNIZERS


def test_import_is_light():
    """`import facetrust` must not import any backend."""
    code = "import sys, facetrust; print(sorted(m for m in ('dlib', 'onnxruntime', 'cv2', 'torch', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_registries_list_names():
    assert DETECTORS.names()[:2] == ["dlib-hog", "dlib-cnn"]
    assert {"yunet", "ultraface"} <= set(DETECTORS.names())
    assert {"dlib-resnet", "mobilefacenet"} <= set(RECOGNIZERS.names())


def test_unknown_component_names():
    from facetrust import FaceAnalyzer

    with pytest.raises(ConfigError, match="unknown detector 'nope'"):
        FaceAnalyzer(detector="nope")
    with pytest.raises(ConfigError, match="unknown recognizer"):
        FaceAnalyzer(recognizer="nope")


def test_bad_component_options():
    with pytest.raises(ConfigError, match="bad options for detector 'dlib-hog'"):
        DETECTORS.create("dlib-hog", nonsense=1)


def test_gpu_request_fails_loudly_instead_of_running_on_cpu(shared):
    from facetrust import FaceAnalyzer
    from facetrust.runtime import available_devices

    with pytest.raises(DeviceUnavailableError, match="CPU only"):
        FaceAnalyzer(detector="dlib-hog", device="cuda").detector
    if "cuda" not in available_devices():
        with pytest.raises(DeviceUnavailableError, match="cuda"):
            FaceAnalyzer(recognizer="mobilefacenet", device="cuda").recognizer
    with pytest.raises(ConfigError, match="unknown device"):
        FaceAnalyzer(recognizer="mobilefacenet", device="tpu").recognizer
