#!/bin/sh
# Session 6, after fill_s6_auto.sh: the cost figure again (CPU time, so the load does not inflate
# it), tpe's local search cost on nas_chain, then gp seeds on digits_svc and the held-out tables.
set -e
cd "$(dirname "$0")/../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
nice -n 10 python benchmarks/tuners/cost.py --tuners gp,optuna_gp,tpe --history 100,1000 --repeats 3 --cpu
nice -n 10 python benchmarks/tuners/cost.py --problem nas_chain --tuners "tpe,tpe[local_search=true],auto" --history 100,1000 --repeats 5 --cpu
B="nice -n 10 python benchmarks/tuners/gp_vs_baselines.py"
$B --methods gp --problems digits_svc --seeds 12
$B --methods gp --problems hpolib_protein,hpolib_slice,hpobench_australian,hpobench_credit_g --seeds 8
