#!/bin/sh
# Session 5 fill, stage 2 (after the tpe change): Optuna's TPE to 20 seeds where ours is compared
# with it, then the new tpe/auto on the held-out tables, then gp/GPSampler. One process, nice 10.
set -e
cd "$(dirname "$0")/../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
B="nice -n 10 python benchmarks/tuners/gp_vs_baselines.py --seeds 20"
$B --methods optuna_tpe --problems branin,hartmann6,rosenbrock4,log_valley,cat_mixed,int_quadratic,conditional,nas_chain
$B --methods tpe --problems nb201_cifar100,hpolib_protein,hpolib_slice
$B --methods optuna_tpe --problems digits_svc,nb201_cifar10
$B --methods optuna_gp --problems branin,hartmann6,rosenbrock4,log_valley
$B --methods gp --problems branin,hartmann6,rosenbrock4,log_valley
