#!/bin/sh
# Session 6 fill, after auto's local search on all-categorical spaces: auto itself (not the alias
# of tpe) on every all-categorical problem, tuning problems first, then the held-out ones, then gp
# towards 20 seeds where auto is judged against it. Runs only what is missing; one process, nice 10.
set -e
cd "$(dirname "$0")/../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
B="nice -n 10 python benchmarks/tuners/gp_vs_baselines.py --seeds 20"
$B --methods auto --problems nas_chain,nb201_cifar10,hpolib_naval,hpolib_parkinsons,digits_svc
$B --methods auto --problems nb201_cifar100,hpolib_protein,hpolib_slice,hpobench_australian,hpobench_credit_g
$B --methods gp --problems nas_chain,nb201_cifar100
$B --methods gp --problems nb201_cifar10,hpolib_naval,hpolib_parkinsons --seeds 10
