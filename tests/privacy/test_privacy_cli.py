"""``facetrust privacy`` and ``facetrust eval protection`` end to end on real LFW images."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.gallery import Gallery
from facetrust.privacy import KEY_ENV, ProtectionKey, read_key_file, save_key

runner = CliRunner()
PEOPLE = ["Colin_Powell", "George_W_Bush", "Gerhard_Schroeder", "Tony_Blair", "Donald_Rumsfeld", "Ariel_Sharon"]


def invoke(*args: object):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args])


def test_gallery_create_with_protection(tmp_path: Path, monkeypatch):
    key = save_key(ProtectionKey.generate(), tmp_path / "app.key")
    result = invoke("gallery", "create", "--preset", "dlib", tmp_path / "g.gallery", "--protection", "biohash", "--key", key)
    assert result.exit_code == 0, result.output
    monkeypatch.setenv(KEY_ENV, read_key_file(key).hex())
    stats = invoke("gallery", "stats", tmp_path / "g.gallery", "--json")
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["model"]["protection"]["scheme"] == "biohash"
    bad = invoke("gallery", "create", "--preset", "dlib", tmp_path / "h.gallery", "--protection", "rot13", "--key", key)
    assert bad.exit_code == 1 and "unknown protection scheme" in bad.output
    assert not (tmp_path / "h.gallery").exists()


def test_keygen_and_fingerprint(tmp_path: Path):
    path = tmp_path / "app.key"
    result = invoke("privacy", "keygen", path)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert result.stdout.strip() == read_key_file(path).fingerprint
    assert invoke("privacy", "fingerprint", path).stdout.strip() == read_key_file(path).fingerprint
    again = invoke("privacy", "keygen", path)
    assert again.exit_code == 1 and again.output.strip().startswith("error:") and "already exists" in again.output
    path.write_text("facetrust-key v1 1234 abcd\n")
    broken = invoke("privacy", "fingerprint", path)
    assert broken.exit_code == 1 and len(broken.output.strip().splitlines()) == 1


def test_eval_protection_on_a_small_view2_style_pair_list(shared: Path, tmp_path: Path):
    """10 folds of 2 same + 2 different pairs over 18 images of 6 people; the full run is in docs/privacy.md."""
    lines = ["10 2"]
    for fold in range(10):
        offset = 0 if fold < 5 else 3  # folds 1-5 and 6-10 are subject-disjoint, as in View 2
        a, b = PEOPLE[offset + fold % 3], PEOPLE[offset + (fold + 1) % 3]
        lines += [f"{a} 1 2", f"{b} 2 3", f"{a} 3 {b} 1", f"{b} 2 {a} 1"]
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(lines) + "\n")
    result = invoke("eval", "protection", "--root", shared / "data" / "lfw", "--pairs", pairs, "--keys", 2,
                    "--cache", tmp_path / "cache.sqlite", "--workers", 1, "--report", tmp_path / "report", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    entry = out["configurations"]["dlib-hog+dlib-resnet"]
    assert entry["images"] == 18
    assert set(entry["schemes"]) == {"slerp", "biohash", "slerp (no rotation)"}
    for metrics in entry["schemes"].values():
        assert 0.0 <= metrics["unlinkability_d_sys"] <= 1.0
        assert 0.5 <= metrics["accuracy"] <= 1.0
    attack = entry["schemes"]["slerp"]["irreversibility"]
    assert attack["ridge"]["success_same_key"] >= attack["ridge"]["success_other_key"]
    assert (tmp_path / "report" / "protection_unlinkability.png").stat().st_size > 10_000
    bad = invoke("eval", "protection", "--root", shared / "data" / "lfw", "--pairs", pairs, "--scheme", "rot13")
    assert bad.exit_code == 1 and "unknown protection scheme 'rot13'" in bad.output


def test_rekey_reenrols_under_a_new_key(shared: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    images = tmp_path / "images"
    for person in PEOPLE[:3]:
        (images / person).mkdir(parents=True)
        for number in (1, 2):
            name = f"{person}_{number:04d}.jpg"
            (images / person / name).symlink_to(shared / "data" / "lfw" / person / name)
    old_key = save_key(ProtectionKey.generate(), tmp_path / "old.key")
    with Gallery.create(tmp_path / "old.gallery", "dlib-resnet", protection="slerp", key=old_key) as gallery:
        gallery.enroll_folder(images)
        gallery.update(PEOPLE[0], name="Colin Powell")
    new_key = tmp_path / "new.key"
    result = invoke("privacy", "rekey", tmp_path / "old.gallery", tmp_path / "new.gallery", "--images", images,
                    "--key", old_key, "--new-key", new_key, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["enrolled"] == 3 and report["not_reenrolled"] == []
    assert report["key_fingerprint"] == read_key_file(new_key).fingerprint != read_key_file(old_key).fingerprint
    probe = shared / "data" / "lfw" / PEOPLE[0] / f"{PEOPLE[0]}_0003.jpg"
    with Gallery.open(tmp_path / "new.gallery", key=new_key) as renewed:
        assert renewed.get(PEOPLE[0]).name == "Colin Powell"
        assert renewed.search(probe).identity == PEOPLE[0]
    no_key = invoke("gallery", "stats", tmp_path / "new.gallery")
    assert no_key.exit_code == 1 and "this gallery is protected" in no_key.output
    monkeypatch.setenv(KEY_ENV, read_key_file(old_key).hex())
    wrong = invoke("gallery", "stats", tmp_path / "new.gallery")
    assert wrong.exit_code == 1 and "protected with key" in wrong.output
    monkeypatch.setenv(KEY_ENV, read_key_file(new_key).hex())
    assert invoke("gallery", "stats", tmp_path / "new.gallery").exit_code == 0
    same = invoke("privacy", "rekey", tmp_path / "old.gallery", tmp_path / "x.gallery", "--images", images,
                  "--key", old_key, "--new-key", old_key)
    assert same.exit_code == 1 and "current key" in same.output
    assert not (tmp_path / "x.gallery").exists()
