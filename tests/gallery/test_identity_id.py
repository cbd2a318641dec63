"""The rule for new identity ids, and that ids stored before it (hostile ones included) can
always be read, searched, changed and erased through the library."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import GalleryError
from facetrust.gallery import Gallery, NewTemplate
from facetrust.gallery.identity_id import MAX_LENGTH, check_new_identity_id

#: Ids the rule refuses, with a word of the reason it must give.
REFUSED = {
    "": "empty", ".": "not allowed", "..": "not allowed", " padded": "whitespace", "padded ": "whitespace",
    "\u202eevil": "U+202E", "a\x00b": "U+0000", "a\nb": "U+000A", "tab\t": "U+0009", "zero\u200bwidth": "U+200B",
    "line\u2028sep": "U+2028", "x" * 10_000: "at most 256", "\ud800": "U+D800",
}
#: Hostile-looking ids that are fine: slashes, dots inside, percent signs, any script.
ALLOWED = ["a/b", "../../etc/passwd", "%2E%2E", "a.b", "...", "Zoë Ñandú", "名前", "x" * MAX_LENGTH, "a b"]
#: Ids an older version could store, which the rule now refuses for new identities.
OLD_HOSTILE = [".", "..", "\u202eevil", " padded", "zero\u200bwidth", "a/b", "../../etc/passwd"]


@pytest.mark.parametrize("identity_id", list(REFUSED), ids=lambda v: repr(v)[:20])
def test_new_ids_with_control_characters_dots_or_padding_are_refused(identity_id):
    with pytest.raises(GalleryError, match=REFUSED[identity_id].replace("+", r"\+")):
        check_new_identity_id(identity_id)


def test_hostile_looking_but_printable_ids_are_allowed():
    for identity_id in ALLOWED:
        assert check_new_identity_id(identity_id) == identity_id
    with pytest.raises(GalleryError, match="must be a string"):
        check_new_identity_id(42)


@pytest.fixture(scope="module")
def embeddings(analyzer, faces_dir: Path) -> list[np.ndarray]:
    """Real embeddings of distinct photos (one face each)."""
    photos = sorted((faces_dir / "examples" / "knn_examples" / "train").glob("*/*.jp*g"))[:len(OLD_HOSTILE) + 1]
    vectors = [analyzer.analyze(photo)[0].embedding for photo in photos]
    assert len(vectors) == len(OLD_HOSTILE) + 1
    return vectors


def test_enrol_refuses_new_hostile_ids_and_stores_nothing(tmp_path, embeddings):
    with Gallery.create(tmp_path / "g.gallery", "edgeface-xs") as gallery:
        for identity_id in REFUSED:
            with pytest.raises(GalleryError):
                gallery.enroll(identity_id, embeddings=embeddings[0], model="edgeface-xs")
        assert len(gallery) == 0
        gallery.enroll("a/b", embeddings=embeddings[0], model="edgeface-xs")
        assert gallery.get("a/b").id == "a/b"


def test_ids_stored_before_the_rule_can_be_read_searched_changed_and_erased(tmp_path, embeddings):
    with Gallery.create(tmp_path / "old.gallery", "edgeface-xs") as gallery:
        # Written below the rule, as an older facetrust wrote them.
        gallery.backend.enroll([(i, None, "{}", [NewTemplate(v / np.linalg.norm(v))])
                                for i, v in zip(OLD_HOSTILE, embeddings)], "error")
        assert {i.id for i in gallery.list()} == set(OLD_HOSTILE)
        for identity_id, vector in zip(OLD_HOSTILE, embeddings):
            assert gallery.get(identity_id).id == identity_id and identity_id in gallery
            assert gallery.search_embedding(vector, k=1).matches[0].identity_id == identity_id
            assert gallery.update(identity_id, name="renamed").name == "renamed"
        export = tmp_path / "old.jsonl.gz"
        assert gallery.export(export) == len(OLD_HOSTILE)
        for identity_id in OLD_HOSTILE:
            assert gallery.remove(identity_id).identities == 1
            assert identity_id not in gallery
        assert len(gallery) == 0
