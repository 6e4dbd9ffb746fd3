#!/bin/sh
# Session 5 fill of gp_vs_baselines.jsonl, stage 1: the methods that the tpe/auto work does not
# change (cheap first). One process at a time, nice 10, one thread.
set -e
cd "$(dirname "$0")/../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
B="nice -n 10 python benchmarks/tuners/gp_vs_baselines.py --seeds 20"
ALL=branin,hartmann6,rosenbrock4,log_valley,cat_mixed,digits_svc,int_quadratic,conditional,nas_chain,nb201_cifar10,hpolib_naval,hpolib_parkinsons,nb201_cifar100,hpolib_protein,hpolib_slice,hpobench_australian,hpobench_credit_g
CONT=branin,hartmann6,rosenbrock4,log_valley
$B --methods random --problems $ALL
$B --methods optuna_gp --problems $CONT
$B --methods gp --problems $CONT
$B --methods optuna_tpe --problems $ALL
