"""Runs inside the compreface-sdk venv (see test_compreface_sdk.py): drives a facetrust server
with the unmodified official CompreFace Python SDK and prints every answer as JSON.

usage: python compreface_client.py URL PORT API_KEY PHOTOS_DIR
"""
import json
import os
import sys

from compreface import CompreFace

url, port, key, photos = sys.argv[1:5]
examples = os.path.join(photos, "examples")
knn = os.path.join(examples, "knn_examples")


def photo(*parts):
    return os.path.join(knn, *parts)


out = {}
compre_face = CompreFace(url, port, {"limit": 0, "det_prob_threshold": 0.0, "prediction_count": 1,
                                     "face_plugins": "landmarks", "status": False})
recognition = compre_face.init_face_recognition(key)
faces = recognition.get_face_collection()
subjects = recognition.get_subjects()

out["delete_all_subjects_first"] = subjects.delete_all()
out["add_subject"] = subjects.add("biden")
out["add_subject_again"] = subjects.add("biden")
out["subjects_after_add"] = subjects.list()
out["add_obama_1"] = faces.add(photo("train", "obama", "obama.jpg"), "obama")
out["add_obama_2"] = faces.add(photo("train", "obama", "obama2.jpg"), "obama")
out["add_biden"] = faces.add(photo("train", "biden", "biden.jpg"), "biden")
with open(photo("train", "kit_harington", "john1.jpeg"), "rb") as stream:  # bytes instead of a path
    out["add_kit_bytes"] = faces.add(stream.read(), "kit")
out["add_two_faces"] = faces.add(os.path.join(examples, "two_people.jpg"), "pair")
out["list_faces"] = faces.list()
out["recognize_obama"] = recognition.recognize(photo("test", "obama1.jpg"), {
    "limit": 0, "prediction_count": 2, "face_plugins": "landmarks,calculator", "status": True})
out["recognize_group"] = recognition.recognize(photo("test", "obama_and_biden.jpg"))
out["recognize_limit_1"] = recognition.recognize(photo("test", "obama_and_biden.jpg"), {"limit": 1})
out["verify_example_same"] = faces.verify(photo("test", "obama1.jpg"), out["add_obama_1"]["image_id"])
out["verify_example_other"] = faces.verify(photo("test", "obama1.jpg"), out["add_biden"]["image_id"])
out["verify_unknown_example"] = faces.verify(photo("test", "obama1.jpg"), "999999")
out["rename_biden"] = subjects.update("biden", "joe_biden")
out["subjects_after_rename"] = subjects.list()
out["recognize_after_rename"] = recognition.recognize(photo("train", "biden", "biden2.jpg"))
out["delete_one_example"] = faces.delete(out["add_obama_2"]["image_id"])
out["delete_missing_example"] = faces.delete(out["add_obama_2"]["image_id"])
out["delete_examples_of_obama"] = faces.delete_all("obama")
out["subjects_after_example_delete"] = subjects.list()
out["recognize_after_delete"] = recognition.recognize(photo("test", "obama1.jpg"))
out["delete_subject"] = subjects.delete("joe_biden")
out["delete_missing_subject"] = subjects.delete("nobody")
out["subjects_at_end"] = subjects.list()
out["list_faces_at_end"] = faces.list()

detection = compre_face.init_face_detection(key)
out["detect_two_people"] = detection.detect(os.path.join(examples, "two_people.jpg"),
                                            {"face_plugins": "landmarks", "status": True})
out["detect_high_threshold"] = detection.detect(os.path.join(examples, "two_people.jpg"),
                                                {"det_prob_threshold": 1.0})

verification = compre_face.init_face_verification(key)
out["verify_same"] = verification.verify(photo("train", "obama", "obama.jpg"), photo("train", "obama", "obama2.jpg"))
out["verify_different"] = verification.verify(photo("train", "obama", "obama.jpg"),
                                              photo("test", "obama_and_biden.jpg"))

out["wrong_key"] = CompreFace(url, port).init_face_detection("not-a-key").detect(os.path.join(examples, "obama.jpg"))
print(json.dumps(out))
