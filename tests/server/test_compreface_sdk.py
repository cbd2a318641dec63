"""CompreFace compatibility, proven with CompreFace's own client: the unmodified ``compreface-sdk``
from the package registry drives a running facetrust server.

The SDK pins ``requests-toolbelt==0.9.1``, which fails to import with urllib3 2, so it runs
in a separate venv with ``urllib3<2``, made on first use and cached in ``.cache/`` (gitignored)
at the repository root; a rerun reuses it.
"""
from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest
import requests
from serverkit import EXAMPLES, FACES, ROOT

SDK_REQUIREMENTS = ["compreface-sdk==0.6.0", "urllib3<2"]
SDK_VENV = ROOT / ".cache" / "compreface-sdk-venv"


def sdk_python() -> Path:
    """The venv's python, creating the venv and installing the SDK when the cache is missing or stale."""
    python = SDK_VENV / "bin" / "python"
    marker = SDK_VENV / "installed.json"
    if marker.is_file() and python.exists() and json.loads(marker.read_text()) == SDK_REQUIREMENTS:
        return python
    venv.EnvBuilder(with_pip=True, clear=True).create(SDK_VENV)
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              *SDK_REQUIREMENTS], capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        pytest.fail(f"cannot install {SDK_REQUIREMENTS} into {SDK_VENV}:\n{install.stdout}\n{install.stderr}")
    marker.write_text(json.dumps(SDK_REQUIREMENTS))
    return python


@pytest.fixture(scope="module")
def sdk_answers(server) -> dict:
    python = sdk_python()
    run = subprocess.run([str(python), str(Path(__file__).with_name("compreface_client.py")),
                          "http://127.0.0.1", str(server.port), server.key, str(FACES)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{server.log_tail()}"
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def threshold() -> float:
    from facetrust import FaceAnalyzer

    return FaceAnalyzer().threshold()  # the default EdgeFace-XS at FMR 1e-3, as calibrated


def best(face: dict) -> tuple[str, float]:
    top = face["subjects"][0]
    return top["subject"], top["similarity"]


def test_subjects_and_examples(sdk_answers):
    a = sdk_answers
    assert set(a["delete_all_subjects_first"]) == {"deleted"}
    assert a["add_subject"] == {"subject": "biden"}
    assert a["add_subject_again"]["code"] == 43  # CompreFace: subject already exists
    assert a["subjects_after_add"] == {"subjects": ["biden"]}
    for name in ("add_obama_1", "add_obama_2", "add_biden", "add_kit_bytes"):
        assert set(a[name]) == {"image_id", "subject"}, a[name]
    assert a["add_obama_1"]["image_id"] != a["add_obama_2"]["image_id"]
    assert a["add_two_faces"]["code"] == 31  # CompreFace: too many faces
    listed = a["list_faces"]
    assert listed["total_elements"] == 4 and listed["page_number"] == 0 and listed["total_pages"] == 1
    assert sorted(f["subject"] for f in listed["faces"]) == ["biden", "kit", "obama", "obama"]
    assert {f["image_id"] for f in listed["faces"]} == {a[n]["image_id"] for n in
                                                          ("add_obama_1", "add_obama_2", "add_biden", "add_kit_bytes")}


def test_recognize(sdk_answers, threshold):
    a = sdk_answers
    [face] = a["recognize_obama"]["result"]
    assert best(face)[0] == "obama" and best(face)[1] >= threshold
    assert len(face["subjects"]) == 2 and face["subjects"][0]["similarity"] >= face["subjects"][1]["similarity"]
    assert len(face["landmarks"]) == 5 and len(face["embedding"]) == 512
    assert set(face["box"]) == {"probability", "x_max", "y_max", "x_min", "y_min"}
    assert face["box"]["x_min"] < face["box"]["x_max"] and face["box"]["y_min"] < face["box"]["y_max"]
    assert "execution_time" in face and "plugins_versions" in a["recognize_obama"]

    group = a["recognize_group"]["result"]
    assert len(group) == 3  # Obama, Biden and a girl (see tests/detection)
    names = [best(f)[0] for f in group if best(f)[1] >= threshold]
    assert sorted(names) == ["biden", "obama"]
    assert "embedding" not in group[0] and len(group[0]["landmarks"]) == 5  # only the plugins asked for
    limited = a["recognize_limit_1"]["result"]
    assert len(limited) == 1 and limited[0]["box"] == group[0]["box"]  # the biggest face first


def test_verify_against_an_example(sdk_answers, threshold):
    a = sdk_answers
    [same] = a["verify_example_same"]["result"]
    [other] = a["verify_example_other"]["result"]
    assert same["similarity"] >= threshold > other["similarity"]
    assert a["verify_unknown_example"]["code"] == 11  # CompreFace: image not found


def test_rename_and_delete(sdk_answers, threshold):
    a = sdk_answers
    assert a["rename_biden"] == {"updated": True}
    assert a["subjects_after_rename"] == {"subjects": ["joe_biden", "kit", "obama"]}
    assert best(a["recognize_after_rename"]["result"][0])[0] == "joe_biden"
    assert a["delete_one_example"] == {"image_id": a["add_obama_2"]["image_id"], "subject": "obama"}
    assert a["delete_missing_example"]["code"] == 11
    assert a["delete_examples_of_obama"] == {"deleted": 1}
    assert "obama" in a["subjects_after_example_delete"]["subjects"]  # the subject outlives its examples
    after = a["recognize_after_delete"]["result"][0]["subjects"]
    assert all(s["subject"] != "obama" for s in after)
    assert a["delete_subject"] == {"subject": "joe_biden"}
    assert a["delete_missing_subject"]["code"] == 42  # CompreFace: subject not found
    assert a["subjects_at_end"] == {"subjects": ["kit", "obama"]}
    assert [f["subject"] for f in a["list_faces_at_end"]["faces"]] == ["kit"]


def test_detection(sdk_answers, server):
    a = sdk_answers
    faces = a["detect_two_people"]["result"]
    native = server.post("/v1/detect", files={"image": ("t.jpg", (EXAMPLES / "two_people.jpg").read_bytes())}).json()
    assert len(faces) == len(native["faces"]) == 2
    for ours, theirs in zip(native["faces"], faces):
        assert [round(v) for v in ours["box"]] == [theirs["box"][k] for k in ("x_min", "y_min", "x_max", "y_max")]
        assert theirs["box"]["probability"] == pytest.approx(ours["score"], abs=1e-4)
        assert len(theirs["landmarks"]) == 5
    assert "plugins_versions" in a["detect_two_people"]
    confident = [f for f in native["faces"] if f["score"] >= 1.0]
    if confident:
        assert len(a["detect_high_threshold"]["result"]) == len(confident)
    else:
        assert a["detect_high_threshold"]["code"] == 28  # CompreFace: no face found


def test_verification(sdk_answers, threshold):
    a = sdk_answers
    [same] = a["verify_same"]["result"]
    assert set(same) == {"source_image_face", "face_matches"}
    assert same["face_matches"][0]["similarity"] >= threshold
    [group] = a["verify_different"]["result"]
    similarities = [m["similarity"] for m in group["face_matches"]]
    assert len(similarities) == 3
    assert sum(s >= threshold for s in similarities) == 1  # only Obama of Obama, Biden and a girl


def test_wrong_key(sdk_answers):
    assert set(sdk_answers["wrong_key"]) == {"message", "code"}
    assert "API key" in sdk_answers["wrong_key"]["message"]


def test_facetrust_extras_as_compreface_plugins(server):
    answer = requests.post(server.url + "/api/v1/detection/detect", params={"face_plugins": "interocular_px"},
                           headers={"x-api-key": server.key}, timeout=60,
                           files={"file": ("o.jpg", (EXAMPLES / "obama.jpg").read_bytes())}).json()
    assert answer["result"][0]["interocular_px"] > 0 and "landmarks" not in answer["result"][0]


def test_age_and_gender_plugins_in_compreface_shape(server):
    answer = requests.post(server.url + "/api/v1/detection/detect", params={"face_plugins": "age,gender"},
                           headers={"x-api-key": server.key}, timeout=60,
                           files={"file": ("o.jpg", (EXAMPLES / "obama.jpg").read_bytes())}).json()
    [face] = answer["result"]
    assert face["gender"]["value"] == "male" and 0.5 < face["gender"]["probability"] <= 1
    assert set(face["age"]) == {"probability", "low", "high"} and face["age"]["low"] <= face["age"]["high"]
    assert "attributes" not in face  # only the plugins asked for


def test_compreface_errors_use_compreface_shape(server):
    response = requests.post(server.url + "/api/v1/detection/detect", headers={"x-api-key": server.key},
                             files={"file": ("x.jpg", b"not an image")}, timeout=60)
    assert response.status_code == 400 and set(response.json()) == {"message", "code"}
    missing = requests.post(server.url + "/api/v1/recognition/faces", headers={"x-api-key": server.key},
                            files={"file": ("x.jpg", b"x")}, timeout=60)
    assert missing.status_code == 400 and set(missing.json()) == {"message", "code"}
    assert "Traceback" not in response.text + missing.text
