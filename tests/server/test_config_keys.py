"""Server configuration (file < environment < options), API keys on disk, the rate limiter,
and the ``facetrust keys`` commands."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app as cli
from facetrust.errors import ApiKeyError, ConfigError, PermissionDeniedError
from facetrust.server.config import ServerConfig, load_config
from facetrust.server.keys import KeyStore
from facetrust.server.ratelimit import RateLimiter


def test_config_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("FACETRUST_HOME", str(tmp_path))
    assert load_config(environ={}) == ServerConfig()  # no file at $FACETRUST_HOME: defaults
    (tmp_path / "server.toml").write_text(
        '[server]\nport = 9000\nworkers = 3\ndetector = "yunet"\ncors_origins = ["http://a.example"]\n'
        'detector_options = {score_threshold = 0.7}\n')
    from_file = load_config(environ={})
    assert (from_file.port, from_file.workers, from_file.detector) == (9000, 3, "yunet")
    assert from_file.cors_origins == ("http://a.example",) and from_file.detector_options == {"score_threshold": 0.7}
    env = {"FACETRUST_SERVER_WORKERS": "1", "FACETRUST_SERVER_AUTH": "false",
           "FACETRUST_SERVER_CHECKS": "quality, liveness", "FACETRUST_SERVER_RECOGNIZER_OPTIONS": '{"flip": true}'}
    from_env = load_config(environ=env)
    assert (from_env.port, from_env.workers, from_env.auth) == (9000, 1, False)
    assert from_env.checks == ("quality", "liveness") and from_env.recognizer_options == {"flip": True}
    assert load_config(environ=env, workers=2, port=None).workers == 2  # options win; None = not given
    assert from_env.galleries_path() == tmp_path / "galleries" and from_env.keys_path() == tmp_path / "keys.json"


@pytest.mark.parametrize("text", ['[server]\nworkers = "many"\n', "[server]\nmax_upload_bytes = 0\n",
                                  "[server]\nnot_a_setting = 1\n", "[server\n", "server = 3\n",
                                  '[server]\nauth = "maybe"\n', "[server]\ndetector_options = 3\n"])
def test_bad_config_files(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_config(path, environ={})


def test_bad_environment_and_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FACETRUST_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="FACETRUST_SERVER_PORT"):
        load_config(environ={"FACETRUST_SERVER_PORT": "-1"})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", environ={})


def test_unknown_models_and_checks_fail_before_start(tmp_path):
    from facetrust.server.app import create_app

    with pytest.raises(ConfigError, match="detector"):
        create_app(ServerConfig(detector="no-such-detector", keys_file=str(tmp_path / "k.json")))
    with pytest.raises(ConfigError, match="face check"):
        create_app(ServerConfig(checks=("no-such-check",), keys_file=str(tmp_path / "k.json")))
    with pytest.raises(ConfigError, match="cannot be imported"):
        create_app(ServerConfig(checks=("no.such.module:Extra",), keys_file=str(tmp_path / "k.json")))


def test_keys_are_stored_hashed_scoped_and_revocable(tmp_path):
    path = tmp_path / "home" / "keys.json"
    store = KeyStore(path)
    record, secret = store.create("ci", ["staff"], rate_limit_per_minute=30)
    text = path.read_text()
    assert secret not in text and record.sha256 in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Another process (a running server) reading the same file authenticates the key.
    reader = KeyStore(path)
    assert reader.authenticate(secret).id == record.id and reader.authenticate(secret).rate_limit_per_minute == 30
    assert reader.authenticate(secret).allows("staff") and not reader.authenticate(secret).allows("other")
    with pytest.raises(PermissionDeniedError):
        reader.authenticate(secret).check_gallery("other")
    for wrong in (None, "", "ft_", secret[:-2], secret + "x", "ft_" + "0" * 8 + secret[11:]):
        with pytest.raises(ApiKeyError):
            reader.authenticate(wrong)
    store.revoke(record.id)
    fresh = KeyStore(path)
    with pytest.raises(ApiKeyError, match="revoked"):
        fresh.authenticate(secret)
    with pytest.raises(ConfigError):
        store.revoke("nope")
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not a facetrust key file"):
        KeyStore(path)


def test_rate_limiter_burst_then_refusal():
    limiter = RateLimiter(per_minute=60, burst=3)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert 0.9 < wait <= 1.0  # one token per second
    assert limiter.acquire("b") == 0.0  # buckets are per client
    assert limiter.acquire("c", per_minute=6) == 0.0
    unlimited = RateLimiter(per_minute=0, burst=1)
    assert all(unlimited.acquire("a") == 0.0 for _ in range(100))


def test_keys_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("FACETRUST_HOME", str(tmp_path))
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--name", "robot", "--gallery", "a", "--gallery", "b", "--json"])
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    assert record["galleries"] == ["a", "b"] and record["key"].startswith("ft_")
    plain = runner.invoke(cli, ["keys", "create"])
    assert plain.exit_code == 0 and plain.stdout.strip().startswith("ft_")
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).stdout)
    assert {k["name"] for k in listed} == {"robot", ""} and all("sha256" not in k for k in listed)
    assert "robot" in runner.invoke(cli, ["keys", "list"]).stdout
    revoked = runner.invoke(cli, ["keys", "revoke", record["id"]])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    missing = runner.invoke(cli, ["keys", "revoke", "00000000"])
    assert missing.exit_code == 1 and "no API key" in missing.output
    assert KeyStore(tmp_path / "keys.json").list(include_revoked=False)[0].name == ""
    bad = runner.invoke(cli, ["keys", "create", "--rate-limit", "-5"])
    assert bad.exit_code == 1 and "rate limit" in bad.output


def test_serve_reports_a_bad_model_option_in_one_line(tmp_path):
    env = {**os.environ, "FACETRUST_HOME": str(tmp_path), "FACETRUST_SERVER_DETECTOR_OPTIONS": '{"bogus": 1}'}
    run = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "serve", "--port", "0", "--workers", "1"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip() == "error: bad options for detector 'yunet-retinaface': got an unexpected keyword argument 'bogus'"
