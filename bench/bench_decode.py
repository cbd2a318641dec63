"""What a small file can cost: decode time and peak memory per image size.

Highly compressible images (a smooth gradient: a 50-megapixel PNG is a few hundred KB)
of 1, 10, 25 and 50 megapixels, as PNG and JPEG. Each case runs in fresh processes:

* ``decode``: ``facetrust.io.load_image(path)`` in a process that has only imported
  facetrust.io and decoded a tiny image of the same format — wall and CPU seconds, and
  the peak resident memory above that baseline (``VmHWM``);
* ``detect``: in another process, the default models loaded, the image decoded, the
  default detector (dlib-hog) on it — CPU seconds, and the process's peak resident memory.

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

#: Runs in the child. ``decode``: the peak above a baseline taken after the imports and a
#: tiny decode (Pillow's plugins), nothing else loaded, so that no earlier high-water mark
#: hides the decode's own. ``detect``: models loaded, then decode and detect, whole process.
CHILD = r"""
import json, resource, sys, time
from PIL import Image
from facetrust.io import load_image

def peak_mb():
    # VmHWM belongs to this process image; ru_maxrss would start at the parent's peak (fork).
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

if sys.argv[2] == "decode":
    load_image(Image.new("RGB", (64, 64)))
    load_image(sys.argv[3])
    baseline = peak_mb()
    wall, used = time.perf_counter(), cpu()
    image = load_image(sys.argv[1])
    print(json.dumps({"decode_wall_s": time.perf_counter() - wall, "decode_cpu_s": cpu() - used,
                      "decode_peak_mb": peak_mb() - baseline}))
else:
    from facetrust import FaceAnalyzer
    analyzer = FaceAnalyzer()
    analyzer.detector
    image = load_image(sys.argv[1])
    used = cpu()
    analyzer.detect_rgb(image)
    print(json.dumps({"detect_cpu_s": cpu() - used, "peak_mb": peak_mb()}))
"""


def make_image(megapixels: int, fmt: str, folder: Path) -> Path:
    import numpy as np
    from PIL import Image

    width = int((megapixels * 1e6 * 1.5) ** 0.5)
    height = int(megapixels * 1e6 // width)  # at most the limit: 50 MP must still be accepted
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


def measure(path: Path, code_root: Path, stage: str, tiny: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    # cwd: ``python -c`` puts the working directory first on sys.path, ahead of PYTHONPATH.
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), stage, str(tiny)], capture_output=True, text=True,
                          env=env, cwd=path.parent, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    from PIL import Image

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
                tiny = Path(folder) / f"tiny{path.suffix}"
                Image.new("RGB", (64, 64)).save(tiny, fmt)
                now = {**measure(path, ROOT, "decode", tiny), **measure(path, ROOT, "detect", tiny)}
                row = [f"{megapixels} MP", fmt, f"{path.stat().st_size / 1024:.0f}", f"{now['decode_wall_s']:.2f}",
                       f"{now['decode_cpu_s']:.2f}", f"{now['decode_peak_mb']:.0f}", f"{now['detect_cpu_s']:.2f}",
                       f"{now['peak_mb']:.0f}"]
                if args.baseline:
                    before = measure(path, args.baseline.resolve(), "decode", tiny)
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
