"""Paths shared by the benchmark scripts: ../shared (override with FACETRUST_SHARED)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACETRUST_SHARED", ROOT.parent / "shared"))
LFW_ROOT = SHARED / "data" / "lfw"
LFW_PAIRS = SHARED / "data" / "lfw_pairs.txt"
RESULTS = ROOT / "bench" / "results"

os.environ.setdefault("FACETRUST_MODEL_DIR", str(SHARED / "models"))
