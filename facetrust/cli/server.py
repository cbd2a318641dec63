"""``facetrust serve`` (the REST service and web UI) and ``facetrust keys`` (its API keys)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from facetrust.cli.common import print_json, user_errors

keys_app = typer.Typer(help="API keys of the REST service: create, list, revoke.", no_args_is_help=True)

ConfigOpt = typer.Option(None, "--config", "-c", help="Server config file (TOML) [default: $FACETRUST_CONFIG, "
                                                      "else $FACETRUST_HOME/server.toml if present].")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")


def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Address to bind [default 127.0.0.1]."),
    port: Optional[int] = typer.Option(None, "--port", "-p", help="Port [default 8000]."),
    config_file: Optional[Path] = ConfigOpt,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Inference processes (0 = one per core)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Detector + recognizer preset [default: balanced]; "
                                                                "galleries must be of its recognizer."),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Detector name [default: the preset's]."),
    recognizer: Optional[str] = typer.Option(None, "--recognizer", "-r", help="Recognizer name [default: the preset's]."),
    gallery_dir: Optional[Path] = typer.Option(None, "--gallery-dir", help="Folder of galleries."),
    reports_dir: Optional[Path] = typer.Option(None, "--reports-dir", help="Folder of evaluation reports for the UI."),
    auth: Optional[bool] = typer.Option(None, "--auth/--no-auth", help="Require API keys [default: required]."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Run the REST service and the web UI (http://HOST:PORT/ui/, API docs at /docs)."""
    import uvicorn

    from facetrust.server.app import create_app
    from facetrust.server.config import load_config

    with user_errors():
        config = load_config(config_file, host=host, port=port, workers=workers, preset=preset,
                             detector=detector, recognizer=recognizer, gallery_dir=gallery_dir, reports_dir=reports_dir, auth=auth)
        if not config.auth and config.host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"warning: API keys are off and the server listens on {config.host}: "
                       "anyone who can reach it can use it", err=True)
        app = create_app(config)
        app.state.services.pool.start()  # loads the models now: a bad model or option fails here, in one line
        typer.echo(f"facetrust server on http://{config.host}:{config.port}/ui/ (API docs: /docs)", err=True)
        uvicorn.run(app, host=config.host, port=config.port, log_level=log_level,
                    limit_concurrency=config.max_connections, timeout_keep_alive=5)


def _store(config_file: Optional[Path]):
    """The key file, or the shared database's keys when the config has a database_url."""
    from facetrust.server.config import load_config
    from facetrust.server.keys import open_key_store

    return open_key_store(load_config(config_file))


@keys_app.command()
def create(
    name: str = typer.Option("", "--name", "-n", help="A label for the key (who or what uses it)."),
    gallery: Optional[list[str]] = typer.Option(None, "--gallery", "-g",
                                                help="Gallery this key may use (repeatable) [default: all]."),
    rate_limit: Optional[float] = typer.Option(None, "--rate-limit", help="Requests per minute for this key."),
    config_file: Optional[Path] = ConfigOpt, as_json: bool = JsonOpt,
) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    with user_errors():
        store = _store(config_file)
        record, secret = store.create(name, gallery, rate_limit)
    if as_json:
        print_json({"key": secret, **record.public_dict(), "file": store.location})
        return
    typer.echo(secret)
    scope = ", ".join(record.galleries) if record.galleries else "all galleries"
    typer.echo(f"key {record.id} ({scope}) stored hashed in {store.location}; copy it now, it cannot be shown again",
               err=True)


@keys_app.command("list")
def list_(config_file: Optional[Path] = ConfigOpt, as_json: bool = JsonOpt) -> None:
    """Every key: id, name, galleries, created, revoked."""
    with user_errors():
        records = [k.public_dict() for k in _store(config_file).list()]
    if as_json:
        print_json(records)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "galleries", "rate limit", "created", "status")
    for r in records:
        table.add_row(r["id"], r["name"], ", ".join(r["galleries"]) if r["galleries"] else "all",
                      "default" if r["rate_limit_per_minute"] is None else f"{r['rate_limit_per_minute']:g}/min",
                      r["created"], f"revoked {r['revoked']}" if r["revoked"] else "active")
    Console().print(table)


@keys_app.command()
def revoke(key_id: str = typer.Argument(..., help="Key id (see `facetrust keys list`)."),
           config_file: Optional[Path] = ConfigOpt, as_json: bool = JsonOpt) -> None:
    """Revoke a key; running servers stop accepting it within a second."""
    with user_errors():
        record = _store(config_file).revoke(key_id)
    if as_json:
        print_json(record.public_dict())
    else:
        typer.echo(f"key {record.id} revoked at {record.revoked}")
