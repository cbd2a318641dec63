#!/usr/bin/env bash
# Protected (slerp) vs unprotected gallery search, side by side in one run: the same 1M rows (1,000 real
# LFW EdgeFace-XS identities among face-like synthetic rows) enrolled in an unprotected and a slerp
# gallery under one fresh key, one ivfpq index each, every query sent through both in turn (docs/privacy.md,
# "Protected search at scale"). The enrolled galleries and the key stay in WORKDIR, so a second run only
# builds and measures. Run it on an otherwise idle machine for latencies worth comparing.
#
#   bench/privacy_side_by_side.sh [N] [WORKDIR]      # default 1000000 /tmp/privacy_side_by_side
#
# Needs: the venv, PYTHONPATH at the checkout, ../shared (LFW embeddings come from
# bench/results/lfw_embeddings_yunet_edgeface-xs.npz, computed through the evaluation cache if missing);
# about 2 x 4.2 GB of disk in WORKDIR at 1M (+ one copy while an index is built) and 8 GB of RAM.
# Output: the table on stdout and in bench/results/bench_gallery_edgeface-xs_<N>_ivfpq_none-slerp.md,
# then the CPU time and peak memory of the whole run (/usr/bin/time -v).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
WORKDIR=${2:-/tmp/privacy_side_by_side}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$WORKDIR"
/usr/bin/time -v -o "$WORKDIR/time.txt" python bench/bench_gallery.py --sizes "$N" --queries 1000 --kinds ivfpq \
    --protection none,slerp --workdir "$WORKDIR"
grep -E "Elapsed|User time|System time|Maximum resident" "$WORKDIR/time.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
