"""Training configs: base + override files, typed --set overrides, clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from facetrust.errors import ConfigError
from facetrust.training.config import BUILTIN_DIR, TrainConfig, load_config


def test_base_file_spells_out_every_default() -> None:
    assert load_config(BUILTIN_DIR / "base.toml") == TrainConfig()


def test_override_file_and_set(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(f'extends = "{BUILTIN_DIR / "partial_fc.toml"}"\nlr = 0.02\n')
    config = load_config(tmp_path / "mine.toml", ["batch_size=32", "resume=true", "head=cosface", "margin=0.35"])
    assert (config.network, config.sample_rate, config.lr) == ("iresnet50", 0.1, 0.02)
    assert (config.batch_size, config.resume, config.head, config.margin) == (32, True, "cosface", 0.35)
    assert load_config("partial_fc").sample_rate == 0.1  # built-in configs by name


@pytest.mark.parametrize("override, message", [
    ("batch_size=lots", "batch_size must be int"),
    ("resume=maybe", "resume must be bool"),
    ("lr", "expects key=value"),
    ("learning_rate=0.1", "unknown key 'learning_rate'"),
    ("sample_rate=1.5", r"sample_rate must be in \(0, 1\]"),
])
def test_bad_overrides(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("base", [override])


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "typo.toml").write_text('extends = "base.toml"\n')
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "typo.toml")
    (tmp_path / "loop.toml").write_text('extends = "loop.toml"\n')
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "loop.toml")
    (tmp_path / "wrong.toml").write_text('batch_size = "64"\n')
    with pytest.raises(ConfigError, match="batch_size must be int"):
        load_config(tmp_path / "wrong.toml")
    (tmp_path / "broken.toml").write_text('batch_size = \n')
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "broken.toml")
