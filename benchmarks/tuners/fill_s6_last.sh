#!/bin/sh
# Session 6, last: cat_mixed gp to 20 seeds (the machine had become quiet).
set -e
cd "$(dirname "$0")/../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
nice -n 10 python benchmarks/tuners/gp_vs_baselines.py --methods gp --problems cat_mixed --seeds 20
