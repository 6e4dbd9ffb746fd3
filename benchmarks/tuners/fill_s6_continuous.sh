#!/bin/sh
# Session 6 fill, continuous problems: gp and GPSampler to 20 seeds (runs only what is missing;
# each run is appended to gp_vs_baselines.jsonl as it ends, so a partial fill is usable).
set -e
cd "$(dirname "$0")/../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
B="nice -n 10 python benchmarks/tuners/gp_vs_baselines.py --seeds 20"
$B --methods gp,optuna_gp --problems log_valley,branin,hartmann6,rosenbrock4
