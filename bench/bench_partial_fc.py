"""Partial FC vs the full softmax: peak memory and step time of the classification layer alone
(forward, backward and an SGD step on a batch of embeddings), each setting in a fresh process.

    python bench/bench_partial_fc.py                         # 100k and 1M classes, rates 1.0 and 0.1
    python bench/bench_partial_fc.py --classes 100000 --dim 512

Prints the markdown table of docs/training.md. Memory is the process's peak resident set during
the steps minus its size before the first step (weights and their momentum excluded, the weight
gradient included); time is the median of the timed steps, one intra-op thread.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def run_one(classes: int, rate: float, dim: int, batch: int, steps: int) -> dict[str, float]:
    import torch

    from facetrust.training.heads import create_head
    from facetrust.training.partial_fc import PartialFC

    torch.set_num_threads(1)
    torch.manual_seed(0)
    module = PartialFC(create_head("arcface", 64.0, 0.5), classes, dim, sample_rate=rate)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    module.weight.grad = torch.zeros_like(module.weight)  # the dense gradient exists in both settings
    optimizer.step()  # allocates momentum before the baseline
    optimizer.zero_grad(set_to_none=True)
    baseline = _rss_mib()
    times = []
    for _ in range(steps + 1):
        embeddings = torch.randn(batch, dim, requires_grad=True)
        labels = torch.randint(0, classes, (batch,))
        start = time.perf_counter()
        module(embeddings, labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"classes": classes, "rate": rate, "step_ms": 1000 * statistics.median(times[1:]),
            "extra_mib": peak - baseline, "weights_mib": classes * dim * 4 / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 0.1])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.classes[0], args.rates[0], args.dim, args.batch, args.steps)))
        return
    print(f"embedding {args.dim}-d, batch {args.batch}, median of {args.steps} steps, 1 thread\n")
    print("| classes | sample rate | step time (ms) | peak memory of a step (MiB) | weights (MiB) |")
    print("|---:|---:|---:|---:|---:|")
    for classes in args.classes:
        for rate in args.rates:
            out = subprocess.run([sys.executable, __file__, "--one", "--classes", str(classes), "--rates", str(rate),
                                  "--dim", str(args.dim), "--batch", str(args.batch), "--steps", str(args.steps)],
                                 capture_output=True, text=True, check=True)
            row = json.loads(out.stdout)
            print(f"| {classes:,} | {rate:g} | {row['step_ms']:.0f} | {row['extra_mib']:.0f} | {row['weights_mib']:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
