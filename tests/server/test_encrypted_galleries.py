"""A server whose galleries are encrypted at rest: the key from its configuration, never from a request."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from serverkit import EXAMPLES, ROOT, assert_error, start_server, upload

from facetrust.gallery import Gallery
from facetrust.privacy import ProtectionKey, save_key

KNN = EXAMPLES / "knn_examples"
_KEY_VARIABLES = ("FACETRUST_ENCRYPTION_KEY", "FACETRUST_ENCRYPTION_KEY_FILE")


def test_server_encrypts_galleries_with_the_configured_key(tmp_path_factory):
    home = tmp_path_factory.mktemp("encrypted-home")
    key_file = save_key(ProtectionKey.generate(), home / "gallery.key")
    env = {"FACETRUST_SERVER_WORKERS": "1", "FACETRUST_SERVER_ENCRYPT_GALLERIES": "1",
           "FACETRUST_SERVER_ENCRYPTION_KEY_FILE": str(key_file)}
    clean = {k: v for k, v in os.environ.items() if k not in _KEY_VARIABLES}
    server = start_server(home, env=env)
    try:
        assert server.post("/v1/galleries", json={"name": "staff"}).status_code == 201
        enrolled = server.post("/v1/galleries/staff/identities", data={"id": "obama"},
                               files=[("images", ("o.jpg", (KNN / "train/obama/obama.jpg").read_bytes()))])
        assert enrolled.status_code == 201, enrolled.text
        found = server.post("/v1/galleries/staff/search", files=upload(KNN / "test/obama1.jpg")).json()
        assert found["results"][0]["identity"] == "obama"
        # A key in a request changes nothing: there is no such parameter, the configured key is used.
        again = server.post("/v1/galleries/staff/search", params={"encryption_key": "00" * 32},
                            headers={"x-encryption-key": "00" * 32}, files=upload(KNN / "test/obama1.jpg"))
        assert again.status_code == 200 and again.json()["results"][0]["identity"] == "obama"
    finally:
        server.stop()
    location = home / "galleries" / "staff.gallery"
    with Gallery.open(location, encryption_key=key_file) as gallery:
        (identity, vectors), = list(gallery.backend.iter_export())
    raw = b"".join(p.read_bytes() for p in location.parent.iterdir() if p.is_file())
    stored = np.asarray(vectors, dtype="<f4").tobytes()
    assert stored[:16] not in raw and stored[256:272] not in raw

    # The same home without the key: the server does not start, and says why in one line.
    started = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "serve", "--port", "0"],
                             env={**clean, "FACETRUST_HOME": str(home), "FACETRUST_SERVER_ENCRYPT_GALLERIES": "1"},
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert started.returncode == 1 and "no encryption key given" in started.stderr
    assert started.stderr.count("\n") == 1 and "Traceback" not in started.stderr

    # A server started without encryption cannot open the encrypted gallery: 503, not a crash or garbage.
    plain = start_server(home, env={"FACETRUST_SERVER_WORKERS": "1"})
    try:
        assert_error(plain.get("/v1/galleries/staff"), 503, "key_unavailable")
    finally:
        plain.stop()
