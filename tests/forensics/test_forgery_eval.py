"""``eval forgery`` library: labels, metrics against scikit-learn, and a small end-to-end run on DFDC crops."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ConfigError


def test_average_precision_matches_scikit_learn() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from facetrust.forensics.evaluation import average_precision, detection_metrics

    rng = np.random.default_rng(0)
    labels = rng.uniform(size=200) < 0.3
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounded: many ties
    assert average_precision(scores, labels) == pytest.approx(average_precision_score(labels, scores))
    metrics = detection_metrics(scores, labels, 0.5)
    assert metrics["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert metrics["accuracy"] == pytest.approx(np.mean((scores >= 0.5) == labels))
    assert metrics["n_fake"] == labels.sum() and 0 <= metrics["eer"] <= 1
    one_class = detection_metrics([0.2, 0.9], [True, True], 0.5)
    assert "auc" not in one_class and one_class["tpr"] == 0.5


def test_labels_csv_errors_are_config_errors(tmp_path: Path) -> None:
    from facetrust.forensics.evaluation import read_forgery_labels

    bad_columns = tmp_path / "a.csv"
    bad_columns.write_text("path,label\nx.png,real\n")
    bad_label = tmp_path / "b.csv"
    bad_label.write_text("file,label\nx.png,maybe\n")
    missing = tmp_path / "c.csv"
    missing.write_text("file,label\nnot-there.png,fake\n")
    for path, text in ((bad_columns, "missing column"), (bad_label, "real' or 'fake"), (missing, "does not exist")):
        with pytest.raises(ConfigError, match=text):
            read_forgery_labels(path)
    with pytest.raises(ConfigError, match="no rows"):
        read_forgery_labels(missing, skip_missing=True)


@pytest.fixture(scope="module")
def small_labels(deepfake_dir: Path, tmp_path_factory) -> Path:
    """3 real and 3 fake DFDC crops plus the 4 MesoNet test faces, with a method column."""
    crops = deepfake_dir / "aaronchong888" / "face_crops"
    rows = ["file,label,method"]
    rows += [f"{p},real,dfdc" for p in sorted((crops / "real").glob("*.png"))[:3]]
    rows += [f"{p},fake,dfdc" for p in sorted((crops / "fake").glob("*.png"))[:3]]
    for path in sorted((deepfake_dir / "mesonet_test_images").glob("*/*.jpg")):
        rows.append(f"{path},{'fake' if path.parent.name == 'df' else 'real'},mesonet-df")
    out = tmp_path_factory.mktemp("labels") / "labels.csv"
    out.write_text("\n".join(rows) + "\n")
    return out


def test_evaluate_forgery_end_to_end_and_resumes_from_cache(small_labels: Path, tmp_path: Path) -> None:
    from facetrust.forensics.cache import ScoreCache
    from facetrust.forensics.evaluation import evaluate_forgery, read_forgery_labels, write_forgery_report

    items, _ = read_forgery_labels(small_labels, root=Path("/"), group_pattern=r"^([a-z]+)-")
    assert len(items) == 10 and {i.method for i in items} == {"dfdc", "mesonet-df"}
    with ScoreCache(tmp_path / "cache.sqlite") as cache:
        result, curves = evaluate_forgery(items, ["sbi", "meso4-df"], ["jpeg:50"], cache, crop_fallback=True,
                                          progress=False)
        again, _ = evaluate_forgery(items, ["sbi", "meso4-df"], ["jpeg:50"], cache, crop_fallback=True,
                                    progress=False)
    assert again["metrics"] == result["metrics"]  # the second run reads every score from the cache
    metrics = result["metrics"]
    assert set(metrics) == {"sbi", "meso4-df", "fusion"}
    for entry in metrics.values():
        frame = entry["frame"]
        assert frame["n_real"] + frame["n_fake"] + frame["unavailable"] == 10
        assert 0.0 <= frame["auc"] <= 1.0 and 0.0 <= frame["ap"] <= 1.0 and 0.0 <= frame["accuracy"] <= 1.0
    # DFDC crops grouped into their source videos: abarnvbtwb (real) and a few fake ones
    assert metrics["sbi"]["video"]["n_real"] >= 1 and metrics["sbi"]["video"]["n_fake"] >= 1
    assert set(result["per_method_frame_level"]["sbi"]) == {"dfdc", "mesonet-df"}
    assert set(result["robustness_frame_auc_images"]["fusion"]) == {"clean", "jpeg:50"}
    # each model is reported at its own operating point (sbi's calibrated one, MesoNet's 0.5)
    assert {n: c["threshold"] for n, c in result["configuration"].items()} == {"sbi": 0.7358, "meso4-df": 0.5}
    paths = write_forgery_report(result, curves, tmp_path / "report")
    assert paths["html"].is_file() and (tmp_path / "report" / "roc_frame.png").is_file()
