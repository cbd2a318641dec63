"""Real servers for the server tests (see serverkit.py).

``server`` (one per test session) is configured by a TOML file at its FACETRUST_HOME;
``tight_server`` (one per module that asks for it) has tiny limits, set by
FACETRUST_SERVER_* environment variables, for the fault tests.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from serverkit import start_server


@pytest.fixture(scope="session")
def server(shared: Path, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("server-home")
    config = home / "server.toml"
    # The file is found as $FACETRUST_HOME/server.toml: the default location.
    # Many tests send bad keys on purpose from one address: the failed-key limit is tested in test_limits.py.
    # The whole session shares this server's one key, faster than the default 600 requests a minute on a
    # fast machine: its rate limit is off here; the limiter is tested in test_faults/test_limits/test_scaleout.
    config.write_text('[server]\nworkers = 2\nmax_pixels = 30000000\ncompreface_gallery = "compreface"\n'
                      'auth_failures_per_minute = 1000\nrate_limit_per_minute = 0\n'
                      'checks = ["server_check_plugin:InterocularDistance", "attributes"]\n'
                      f'reports_dir = "{home / "reports"}"\n', encoding="utf-8")
    # The check is imported by the inference workers from this folder.
    running = start_server(home, env={"PYTHONPATH": str(Path(__file__).parent)})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tight_server(shared: Path, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("tight-home")
    env = {
        "FACETRUST_SERVER_WORKERS": "1",
        "FACETRUST_SERVER_MAX_PENDING": "0",
        "FACETRUST_SERVER_REQUEST_TIMEOUT_S": "0.05",
        "FACETRUST_SERVER_UPLOAD_TIMEOUT_S": "1.5",
        "FACETRUST_SERVER_MAX_UPLOAD_BYTES": "300000",
        "FACETRUST_SERVER_RATE_LIMIT_PER_MINUTE": "60",
        "FACETRUST_SERVER_RATE_LIMIT_BURST": "8",
    }
    running = start_server(home, env=env)
    yield running
    running.stop()
