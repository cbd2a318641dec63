"""SDD-FIQA labels, the exported regressor, and training end to end on a small LFW folder."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.errors import ConfigError
from facetrust.quality.training import fit_regressor, identity_folds, sdd_labels, wasserstein_1d

#: 12 LFW identities, 3 images each: small enough for a unit test.
PEOPLE = ["Abdullah_Gul", "Adrien_Brody", "Al_Gore", "Albert_Costa", "Ali_Naimi", "Alvaro_Uribe", "Amelie_Mauresmo",
          "Ana_Palacio", "Andy_Roddick", "Angelina_Jolie", "Ann_Veneman", "Arnold_Palmer"]


def test_wasserstein_matches_scipy():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(0.6, 0.1, 7), rng.normal(0.1, 0.2, 400)
    assert wasserstein_1d(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-9)
    assert wasserstein_1d(a, a) == 0.0
    with pytest.raises(ConfigError):
        wasserstein_1d(a, [])


@pytest.fixture(scope="module")
def lfw_folder(shared, tmp_path_factory):
    """A folder-per-identity tree of symlinks to a few LFW identities (nothing copied)."""
    root = tmp_path_factory.mktemp("people")
    for name in PEOPLE:
        (root / name).mkdir()
        for image in sorted((shared / "data" / "lfw" / name).glob("*.jpg"))[:3]:
            (root / name / image.name).symlink_to(image)
    return root


@pytest.fixture(scope="module")
def embedded(analyzer, lfw_folder):
    paths = sorted(lfw_folder.glob("*/*.jpg"))
    batch = analyzer.embed(paths)
    assert batch.found.sum() >= 30
    return batch.vectors[batch.found], [p.parent.name for p, found in zip(paths, batch.found) if found]


def test_sdd_labels_on_real_embeddings(embedded):
    vectors, ids = embedded
    labels = sdd_labels(vectors, ids)
    assert np.all(np.isfinite(labels)) and np.all(labels > 0)
    # An identity with a single image has no genuine distribution: no label, not a guess.
    assert ids[:3] == [ids[0]] * 3
    lone = sdd_labels(vectors[:4], ids[:3] + ["somebody_else"])
    assert np.isnan(lone[3]) and np.all(np.isfinite(lone[:3]))
    # With fewer impostor images than the sample size every one is used: the label is exactly
    # the Wasserstein distance between the image's genuine and impostor similarities.
    from scipy.stats import wasserstein_distance

    names = np.array(ids)
    for i in (0, 17, len(ids) - 1):
        similarity = vectors @ vectors[i]
        genuine = similarity[(names == names[i]) & (np.arange(len(ids)) != i)]
        assert labels[i] == pytest.approx(wasserstein_distance(genuine, similarity[names != names[i]]), rel=1e-5)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_exported_model_reproduces_scikit_learn(embedded, kind):
    vectors, ids = embedded
    rng = np.random.default_rng(0)
    components = rng.normal(size=(len(ids), 3))
    components[0, 1] = np.nan  # unmeasurable component: imputed with the training median
    inputs = np.hstack([components, vectors])
    labels = sdd_labels(vectors, ids)
    fitted = fit_regressor(inputs, labels, kind=kind)
    spec = fitted.spec
    filled = np.where(np.isnan(inputs), spec["fill"], inputs)
    expected = fitted.estimator.predict((filled - spec["mean"]) / np.array(spec["scale"]))
    assert fitted.predict(inputs) == pytest.approx(expected, abs=1e-9)
    json.dumps(spec)  # the shipped form is plain JSON


def test_identity_folds_keep_people_together():
    ids = ["a", "a", "b", "c", "c", "c", "d", "e"]
    folds = identity_folds(ids, folds=3)
    for name in set(ids):
        assert len({f for f, i in zip(folds, ids) if i == name}) == 1


def test_train_command_end_to_end(lfw_folder, faces_dir, tmp_path):
    out = tmp_path / "my-quality.json"
    runner = CliRunner()
    result = runner.invoke(app, ["quality", "train", "--preset", "dlib", "--root", str(lfw_folder), "--out", str(out), "--kind", "linear",
                                 "--workers", "1", "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["training_identities"] == sorted(PEOPLE) and record["recognizer"] == "dlib-resnet"
    assert record["inputs"] == ["components", "detector_score", "perturbations"]  # the shipped design
    assert 0 <= record["threshold"] <= 100 and len(record["raw_quantiles"]) == 101
    scored = runner.invoke(app, ["quality", "assess", "--preset", "dlib", str(faces_dir / "examples" / "obama.jpg"),
                                 "--model", str(out), "--json"])
    assert scored.exit_code == 0, scored.output
    assert 0 <= json.loads(scored.stdout)[0]["faces"][0]["quality"]["score"] <= 100


def test_train_rejects_bad_folders(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["quality", "train", "--root", str(tmp_path), "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 1 and "need at least 10 identity folders" in result.output
    result = runner.invoke(app, ["quality", "train", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 1 and "not a folder" in result.output
    result = runner.invoke(app, ["quality", "train", "--root", str(tmp_path), "--out", str(tmp_path / "m.json"),
                                 "--input", "components", "--input", "magic"])
    assert result.exit_code == 1 and "quality model inputs must be some of" in result.output


def test_feature_cache_survives_settings_that_cannot_change_features(lfw_folder, tmp_path):
    from facetrust.analyzer import AnalyzerConfig
    from facetrust.quality.dataset import extract_features

    paths = sorted(lfw_folder.glob("*/*.jpg"))[:3]
    cache = tmp_path / "cache"
    dlib = AnalyzerConfig(preset="dlib")  # the pipeline the shipped quality model was trained on
    first = extract_features(paths, dlib, cache, workers=2, progress=False)  # worker processes
    in_process = extract_features(paths, dlib, tmp_path / "in-process", workers=1, progress=False)
    np.testing.assert_array_equal(first.embeddings, in_process.embeddings)
    (store,) = cache.iterdir()
    chunk = next(store.glob("chunk_*.npz"))
    written = chunk.stat().st_mtime_ns
    # Checks run after the features are taken: the same cache must be read, nothing recomputed.
    again = extract_features(paths, AnalyzerConfig(preset="dlib", checks=("quality",), check_options={"quality": {}}), cache,
                             progress=False)
    assert [p.name for p in cache.iterdir()] == [store.name] and chunk.stat().st_mtime_ns == written
    np.testing.assert_array_equal(first.embeddings, again.embeddings)
    extract_features(paths, AnalyzerConfig(preset="dlib", recognizer_options={"num_jitters": 1}), cache, progress=False)
    assert len(list(cache.iterdir())) == 2  # a setting that changes embeddings gets its own cache


def test_a_model_without_perturbation_inputs_embeds_nothing_extra(lfw_folder, faces_dir, tmp_path):
    out = tmp_path / "fast.json"
    runner = CliRunner()
    result = runner.invoke(app, ["quality", "train", "--root", str(lfw_folder), "--out", str(out), "--input", "components",
                                 "--input", "embedding", "--workers", "1", "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["inputs"] == ["components", "embedding"]
    # Trained and used with the default preset (EdgeFace-XS), for which no learned model ships.
    scored = runner.invoke(app, ["quality", "assess", str(faces_dir / "examples" / "obama.jpg"),
                                 "--model", str(out), "--json"])
    assert scored.exit_code == 0, scored.output
    components = json.loads(scored.stdout)[0]["faces"][0]["quality"]["components"]
    assert "learned_raw" in components and "mirror_cosine" not in components
