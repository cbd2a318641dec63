"""What a small file can cost: decode time and peak memory per image size.

Highly compressible images (a smooth gradient: a 50-megapixel PNG is a few hundred KB)
of 1, 10, 25 and 50 megapixels, as PNG and JPEG. Each case runs in a fresh process that
first imports facetrust and loads the default models (its baseline), then measures

* ``decode``: ``facetrust.io.load_image(path)`` — wall and CPU seconds, and the peak
  resident memory above the baseline (``ru_maxrss``);
* ``detect``: the default detector (dlib-hog) on the decoded image — CPU seconds, and the
  process's peak resident memory at the end (baseline included).

``--baseline PATH`` also runs the decode with the facetrust of another checkout (e.g. the
code before a change) in the same way, for a before/after column.

    python bench/bench_decode.py [--baseline ../main]   # table on stdout and in bench/results/bench_decode.md
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT  # noqa: E402

MEGAPIXELS = (1, 10, 25, 50)
FORMATS = ("PNG", "JPEG")

#: Runs in the child: baseline after imports and model loading, then decode, then detect.
CHILD = r"""
import json, resource, sys, time
from facetrust import FaceAnalyzer
from facetrust.io import load_image

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

analyzer = FaceAnalyzer()
analyzer.detector
baseline = peak_mb()
wall, used = time.perf_counter(), cpu()
image = load_image(sys.argv[1])
out = {"baseline_mb": baseline, "decode_wall_s": time.perf_counter() - wall, "decode_cpu_s": cpu() - used,
       "decode_peak_mb": peak_mb() - baseline}
if sys.argv[2] == "detect":
    used = cpu()
    faces = analyzer.detect_rgb(image)
    out.update(detect_cpu_s=cpu() - used, peak_mb=peak_mb())
print(json.dumps(out))
"""


def make_image(megapixels: int, fmt: str, folder: Path) -> Path:
    import numpy as np
    from PIL import Image

    width = round((megapixels * 1e6 * 1.5) ** 0.5)
    height = round(megapixels * 1e6 / width)
    # A horizontal and a vertical ramp: smooth, so both formats compress it to almost nothing.
    x = np.linspace(40, 215, width, dtype=np.float32)
    y = np.linspace(30, 200, height, dtype=np.float32)[:, None]
    rows = np.empty((height, width, 3), dtype=np.uint8)
    rows[..., 0] = x[None, :].astype(np.uint8)
    rows[..., 1] = y.astype(np.uint8)
    rows[..., 2] = 128
    path = folder / f"ramp_{megapixels}mp.{fmt.lower().replace('jpeg', 'jpg')}"
    Image.fromarray(rows).save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {"optimize": True}))
    return path


def measure(path: Path, code_root: Path, stage: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), stage], capture_output=True, text=True, env=env,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="Another checkout whose facetrust decodes for comparison.")
    args = parser.parse_args()
    header = ["size", "format", "file KB", "decode s (wall)", "decode s (CPU)", "decode peak MB",
              "dlib-hog detect s (CPU)", "process peak MB"]
    if args.baseline:
        header += ["before: decode s (CPU)", "before: decode peak MB"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    with tempfile.TemporaryDirectory() as folder:
        for megapixels in MEGAPIXELS:
            for fmt in FORMATS:
                path = make_image(megapixels, fmt, Path(folder))
                now = measure(path, ROOT, "detect")
                row = [f"{megapixels} MP", fmt, f"{path.stat().st_size / 1024:.0f}", f"{now['decode_wall_s']:.2f}",
                       f"{now['decode_cpu_s']:.2f}", f"{now['decode_peak_mb']:.0f}", f"{now['detect_cpu_s']:.2f}",
                       f"{now['peak_mb']:.0f}"]
                if args.baseline:
                    before = measure(path, args.baseline.resolve(), "decode")
                    row += [f"{before['decode_cpu_s']:.2f}", f"{before['decode_peak_mb']:.0f}"]
                lines.append("| " + " | ".join(row) + " |")
                print(lines[-1], flush=True)
                path.unlink()
    table = "\n".join(lines)
    print("\n" + table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_decode.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
