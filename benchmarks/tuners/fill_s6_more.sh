#!/bin/sh
# Session 6, after fill_s6_after.sh: gp towards 20 seeds on the remaining problems (stopped at the
# session's deadline wherever it is; every run is kept as it ends). Integer and conditional first:
# there auto is gp, so these are auto's cells too.
set -e
cd "$(dirname "$0")/../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
B="nice -n 10 python benchmarks/tuners/gp_vs_baselines.py --methods gp"
$B --problems int_quadratic,conditional --seeds 20
$B --problems nb201_cifar10,hpolib_naval,hpolib_parkinsons,digits_svc --seeds 20
$B --problems cat_mixed --seeds 10
$B --problems hpolib_protein,hpolib_slice,hpobench_australian,hpobench_credit_g --seeds 20
