"""The enrolment quality gate and quality-weighted fusion, on real photos (dlib HOG + ResNet).

The low-quality face is a darkened copy (gain 0.08) of a real photo: dlib still finds and
embeds it, and every quality method scores it far below its threshold ("too dark").
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from facetrust.analyzer import FaceAnalyzer
from facetrust.cli.main import app
from facetrust.errors import ConfigError, LowQualityError
from facetrust.gallery import Gallery, LowQualityWarning, default_quality_method
from facetrust.quality import fuse_embeddings

KNN = "data/faces/ageitgey_face_recognition/examples/knn_examples"


@pytest.fixture(scope="module")
def photos(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("quality")
    good = shared / KNN / "train/obama/obama.jpg"
    dark = folder / "obama_dark.png"  # PNG: no JPEG artefacts added to the darkening
    Image.fromarray((np.asarray(Image.open(good).convert("RGB")) * 0.08).astype(np.uint8)).save(dark)
    return {"good": good, "good2": shared / KNN / "train/obama/obama2.jpg", "dark": dark,
            "probe": shared / KNN / "test/obama1.jpg", "biden": shared / KNN / "train/biden/biden2.jpg"}


@pytest.fixture()
def analyzer() -> FaceAnalyzer:
    """These tests measure the learned quality model, which exists for dlib-resnet: the ``dlib`` preset."""
    return FaceAnalyzer(preset="dlib")


@pytest.fixture()
def gallery(tmp_path: Path, analyzer) -> Gallery:
    with Gallery.create(tmp_path / "q.gallery", analyzer=analyzer) as created:
        yield created


def test_default_method_follows_the_shipped_calibrations(gallery):
    assert gallery.quality_policy == "warn"
    assert gallery.quality_assessor.name == "learned"  # dlib-resnet has a learned model
    assert default_quality_method("mobilefacenet") == "explainable"  # no learned model ships for it
    assert default_quality_method("edgeface-xs") == "explainable"  # nor for the default recognizer
    with pytest.raises(ConfigError, match="quality policy"):
        gallery.enroll("x", embeddings=np.ones(128), quality_policy="strict")  # type: ignore[arg-type]


def test_reject_refuses_the_whole_call_and_names_the_image(gallery, photos):
    with pytest.raises(LowQualityError, match=r"1 of 2 image\(s\).*obama_dark.png.*too dark"):
        gallery.enroll("obama", [photos["good"], photos["dark"]], quality_policy="reject")
    assert len(gallery) == 0 and "obama" not in gallery  # atomic: the good photo is not enrolled either
    identity = gallery.enroll("obama", [photos["good"]], quality_policy="reject")
    with pytest.raises(LowQualityError, match="too dark"):
        gallery.add_templates("obama", [photos["dark"]], quality_policy="reject")
    assert len(gallery.get("obama").templates) == 1
    assert identity.templates[0].quality > gallery.quality_assessor.threshold


def test_warn_enrols_with_a_warning_and_stores_the_scores(gallery, photos):
    with pytest.warns(LowQualityWarning, match="obama_dark.png.*too dark"):
        identity = gallery.enroll("obama", [photos["good"], photos["dark"]])  # the default policy: warn
    good, dark = (t.quality for t in identity.templates)
    threshold = gallery.quality_assessor.threshold
    assert good > threshold > dark >= 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # off: no warning at all
        gallery.add_templates("obama", [photos["dark"]], quality_policy="off")
    assert gallery.get("obama").templates[2].quality == pytest.approx(dark)
    # Caller-given values are stored as they are, without assessment or gate.
    assert gallery.enroll("given", [photos["dark"]], quality=[55.0], quality_policy="reject").templates[0].quality == 55.0


def test_explainable_method_and_quality_round_trip_through_export(tmp_path, analyzer, photos):
    with Gallery.create(tmp_path / "e.gallery", analyzer=analyzer, quality_method="explainable") as gallery:
        with pytest.warns(LowQualityWarning, match="too dark"):
            gallery.enroll("obama", [photos["good"], photos["dark"]], name="Barack Obama")
        gallery.enroll("biden", embeddings=np.ones(128), quality=[None])
        stored = {i.id: [t.quality for t in i.templates] for i in gallery.list()}
        assert gallery.quality_assessor.name == "explainable" and stored["obama"][0] == 100.0
        gallery.export(tmp_path / "e.jsonl.gz")
    with Gallery.from_export(tmp_path / "copy.gallery", tmp_path / "e.jsonl.gz") as copy:
        assert {i.id: [t.quality for t in i.templates] for i in copy.list()} == stored


def test_folder_enrolment_skips_refused_images(tmp_path, analyzer, photos):
    person = tmp_path / "people" / "obama"
    person.mkdir(parents=True)
    for key in ("good", "dark"):
        (person / photos[key].name).write_bytes(photos[key].read_bytes())
    with Gallery.create(tmp_path / "f.gallery", analyzer=analyzer, quality_policy="reject") as gallery:
        report = gallery.enroll_folder(tmp_path / "people")
        assert report.enrolled == ["obama"] and list(report.failed) == [str(person / "obama_dark.png")]
        assert "too dark" in report.failed[str(person / "obama_dark.png")]
        assert [Path(t.source).name for t in gallery.get("obama").templates] == ["obama.jpg"]


def test_quality_mean_fusion_scores_the_weighted_mean_template(gallery, photos, analyzer):
    with pytest.warns(LowQualityWarning):
        obama = gallery.enroll("obama", [photos["good"], photos["good2"], photos["dark"]])
    gallery.enroll("biden", [photos["biden"]])
    gallery.enroll("no_quality", embeddings=analyzer.embed([photos["good2"], photos["good"]]).vectors)
    vectors = analyzer.embed([photos["good"], photos["good2"], photos["dark"]]).vectors
    probe = analyzer.embed([photos["probe"]]).vectors[0]
    qualities = [t.quality for t in obama.templates]

    best = gallery.search_embedding(probe, k=3)
    fused = gallery.search_embedding(probe, k=3, fusion="quality-mean")
    scores = {m.identity_id: m.score for m in fused.matches}
    # max: the best template; quality-mean: the cosine with the quality-weighted mean template.
    assert best.matches[0].score == pytest.approx(float((vectors @ probe).max()), abs=1e-5)
    assert scores["obama"] == pytest.approx(float(fuse_embeddings(vectors, qualities) @ probe), abs=1e-5)
    # The dark template weighs almost nothing: near the mean of the two good photos, unlike a plain mean.
    good_mean = fuse_embeddings(vectors[:2], [1.0, 1.0]) @ probe
    plain_mean = fuse_embeddings(vectors, [1.0, 1.0, 1.0]) @ probe
    assert abs(scores["obama"] - good_mean) < abs(scores["obama"] - plain_mean)
    # Templates without a stored quality weigh equally; one template: fusion changes nothing.
    assert scores["no_quality"] == pytest.approx(float(fuse_embeddings(vectors[[1, 0]], [1, 1]) @ probe), abs=1e-5)
    assert scores["biden"] == pytest.approx(next(m.score for m in best.matches if m.identity_id == "biden"), abs=1e-6)
    assert fused.matches[0].template_id in {t.id for t in obama.templates}
    assert [m.score for m in fused.matches] == sorted((m.score for m in fused.matches), reverse=True)
    assert gallery.search(photos["probe"], fusion="quality-mean").identity == "obama"
    with pytest.raises(ConfigError, match="fusion"):
        gallery.search_embedding(probe, fusion="mean")  # type: ignore[arg-type]


def test_cli_quality_gate_and_fusion(tmp_path, photos):
    runner = CliRunner()
    store = tmp_path / "cli.gallery"

    def run(*args: object):
        return runner.invoke(app, ["gallery", *[str(a) for a in args]])

    assert run("create", "--preset", "dlib", store).exit_code == 0
    refused = run("enroll", store, "--id", "obama", photos["good"], photos["dark"], "--quality", "reject")
    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: enrolment refused") and "too dark" in lines[0]
    warned = run("enroll", store, "--id", "obama", photos["good"], photos["dark"])
    assert warned.exit_code == 0, warned.output
    assert "warning: enrolled despite low quality:" in warned.output and "(learned)" in warned.output
    found = run("search", store, photos["probe"], "--fusion", "quality-mean")
    assert found.exit_code == 0 and ": obama (score" in found.output


def test_quality_mean_on_both_backends(make_gallery):
    """Embeddings with given qualities: the fused score is the cosine with the weighted mean."""
    rng = np.random.default_rng(7)
    centre = rng.normal(size=128)
    good, poor = (centre + rng.normal(scale=s, size=(n, 128)) for s, n in ((0.3, 2), (3.0, 1)))
    other = rng.normal(size=(1, 128))
    gallery = make_gallery()
    gallery.enroll("a", embeddings=np.vstack([good, poor]), quality=[80.0, 60.0, 2.0])
    gallery.enroll("b", embeddings=other, quality=[None])
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)
    probe = unit(centre + rng.normal(scale=0.3, size=128))
    fused = {m.identity_id: m.score for m in gallery.search_embedding(probe, k=2, fusion="quality-mean").matches}
    expected = fuse_embeddings(unit(np.vstack([good, poor])), [80.0, 60.0, 2.0]) @ probe
    assert fused["a"] == pytest.approx(float(expected), abs=1e-5)
    assert fused["b"] == pytest.approx(float(unit(other[0]) @ probe), abs=1e-5)
