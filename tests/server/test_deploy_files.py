"""deploy/: the docker-compose deployment (PostgreSQL + pgvector, two instances, Caddy) is
consistent with the server's configuration and the repository. Docker itself is not needed."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from facetrust.presets import PRESETS
from facetrust.server.config import ENV_PREFIX, load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def compose() -> dict:
    text = (DEPLOY / "docker-compose.yml").read_text()
    # Compose fills ${VAR:?message} from the environment; a test value stands in for the password.
    return yaml.safe_load(re.sub(r"\$\{POSTGRES_PASSWORD:\?[^}]*\}", "test-password", text))


def instances(services: dict) -> dict[str, dict]:
    return {name: s for name, s in services.items() if s.get("image") == "facetrust-service"}


def test_compose_runs_two_instances_on_one_pgvector_database_behind_a_proxy(tmp_path, monkeypatch):
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    facetrust = instances(services)
    assert len(facetrust) == 2
    monkeypatch.setenv("FACETRUST_HOME", str(tmp_path))  # no server.toml: the variables alone
    monkeypatch.delenv("FACETRUST_CONFIG", raising=False)
    urls = set()
    for name, service in facetrust.items():
        build = service["build"]  # the context is relative to deploy/, the dockerfile to the context
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY.parent / "Dockerfile").resolve()
        env = {k: str(v) for k, v in service["environment"].items()}
        # Every FACETRUST_SERVER_* variable is a known setting with a valid value (else ConfigError).
        config = load_config(environ=env)
        assert config.database_url and config.database_url.startswith("postgresql://facetrust:test-password@postgres:")
        urls.add(config.database_url)
        assert "postgres" in service["depends_on"]
        server_doc = (DOCS / "server.md").read_text()
        for key in env:
            if key.startswith(ENV_PREFIX):
                assert key[len(ENV_PREFIX):].lower() in server_doc, f"{key} is not documented in docs/server.md"
        # The image must hold the models of the preset the instances run.
        dockerfile = (DEPLOY.parent / "Dockerfile").read_text()
        assert "[server,postgres]" in dockerfile
        for model in PRESETS[config.preset].models:
            assert re.search(rf"facetrust models verify[^\n]*\b{model}\b", dockerfile), model
    assert len(urls) == 1  # one shared database


def test_the_proxy_balances_over_every_instance():
    services = compose()["services"]
    proxy = services["proxy"]
    mounted = {v.split(":")[0] for v in proxy["volumes"]}
    assert "./Caddyfile" in mounted and (DEPLOY / "Caddyfile").is_file()
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile).group(1).split()
    assert sorted(upstreams) == sorted(f"{name}:8000" for name in instances(services))
    assert "health_uri /health" in caddyfile
    assert set(proxy["depends_on"]) == set(instances(services))
