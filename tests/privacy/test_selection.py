"""The parameter selection rule (facetrust.privacy.evaluation.choose_params) on real LFW embeddings."""
from __future__ import annotations

from pathlib import Path

from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
from facetrust.privacy.evaluation import (
    BUDGET_ACCURACY, BUDGET_ACCURACY_WORST_KEY, BUDGET_TAR, BUDGET_TAR_WORST_KEY, GRIDS, choose_params, eval_key,
    load_pair_data, selection_key, within,
)

PEOPLE = ["Colin_Powell", "George_W_Bush", "Gerhard_Schroeder", "Tony_Blair", "Donald_Rumsfeld", "Ariel_Sharon"]


def test_the_rule_takes_the_strongest_setting_whose_every_key_is_within_budget(shared: Path, tmp_path: Path):
    """10 folds of 2 same + 2 different pairs over 18 images of 6 people (folds 1-5 and 6-10 subject-disjoint)."""
    lines = ["10 2"]
    for fold in range(10):
        offset = 0 if fold < 5 else 3
        a, b = PEOPLE[offset + fold % 3], PEOPLE[offset + (fold + 1) % 3]
        lines += [f"{a} 1 2", f"{b} 2 3", f"{a} 3 {b} 1", f"{b} 2 {a} 1"]
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    pairs = read_lfw_pairs(tmp_path / "pairs.txt", shared / "data" / "lfw")
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        data = load_pair_data(pairs, EvalModel("dlib-hog", "dlib-resnet", fallback_box=LFW_FALLBACK_BOX), cache,
                              progress=False)
    trace: list[dict] = []
    chosen = choose_params("slerp", data, keys=4, trace=trace)
    # Tried from the strongest down; every setting before the chosen one failed, the chosen one passed
    # every budget on every key it was tried with (all 4), and nothing was tried after it.
    strength = [(t["params"]["alpha"], t["params"]["drop"]) for t in trace]
    assert strength == sorted(strength, reverse=True)
    assert strength[0] == (max(g["alpha"] for g in GRIDS["slerp"]), max(g["drop"] for g in GRIDS["slerp"]))
    assert all(not t["qualifies"] for t in trace[:-1])
    last = trace[-1]  # alpha 0 without dropout is an isometry: some setting always qualifies
    assert last["qualifies"] and chosen == last["params"] and last["keys_tried"] == 4
    assert last["accuracy_drop_worst"] <= BUDGET_ACCURACY_WORST_KEY and last["accuracy_drop_mean"] <= BUDGET_ACCURACY
    assert last["tar_drop_worst"] is None or last["tar_drop_worst"] <= BUDGET_TAR_WORST_KEY
    assert last["tar_drop_mean"] is None or last["tar_drop_mean"] <= BUDGET_TAR
    # A setting dropped before its last key was dropped for a key over a worst-key budget.
    for tried in trace[:-1]:
        if tried["keys_tried"] < 4:
            assert tried["accuracy_drop_worst"] > BUDGET_ACCURACY_WORST_KEY or (
                tried["tar_drop_worst"] is not None and tried["tar_drop_worst"] > BUDGET_TAR_WORST_KEY), tried
    # The rule's keys are not the test folds' keys.
    assert {selection_key(k).fingerprint for k in range(20)}.isdisjoint({eval_key(k).fingerprint for k in range(20)})


def test_a_drop_of_exactly_the_budget_is_within_it():
    """15 of 1,500 mated pairs lost is a 1-point TAR drop: within the worst-key budget of 1 point, although the
    float difference of the two TARs is 0.010000000000000009; one more pair lost is not."""
    plain = 1486 / 1500
    assert plain - 1471 / 1500 > BUDGET_TAR_WORST_KEY  # the float rounding the rule must not trip on
    assert within(plain - 1471 / 1500, BUDGET_TAR_WORST_KEY)
    assert not within(plain - 1470 / 1500, BUDGET_TAR_WORST_KEY)
    assert within(0.0, BUDGET_ACCURACY) and not within(BUDGET_ACCURACY + 1 / 3000, BUDGET_ACCURACY)
