"""Plot the per-step training loss that ``train_sbi`` logs (``<model>.loss.csv``) to a PNG.

    python bench/sbi_loss_curve.py runs/sbi-rgbfreq-96.loss.csv docs/img/forensics/sbi_loss.png

Raw per-step loss (light) and its 200-step running mean, total and its two terms (score and
blending-mask BCE), against the step; the top axis-free title gives steps and wall time.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--window", type=int, default=200)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with args.csv.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    steps = np.array([int(r["step"]) for r in rows])
    figure, axis = plt.subplots(figsize=(7, 3.5))
    kernel = np.ones(min(args.window, len(rows))) / min(args.window, len(rows))
    for column, colour in (("loss", "black"), ("loss_score", "tab:blue"), ("loss_mask", "tab:orange")):
        values = np.array([float(r[column]) for r in rows])
        axis.plot(steps, values, color=colour, alpha=0.15, linewidth=0.5)
        axis.plot(steps[len(kernel) - 1:], np.convolve(values, kernel, mode="valid"), color=colour, label=column)
    axis.set_xlabel("step")
    axis.set_ylabel("BCE")
    axis.set_title(f"SBI training: {len(rows)} steps in {float(rows[-1]['seconds']):.0f} s", fontsize=10)
    axis.legend()
    figure.tight_layout()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.png, dpi=110)


if __name__ == "__main__":
    main()
