#!/bin/sh
# One heavy process at a time (session 5, issue 19): hyperloom's gp to 10 seeds on every
# problem, interleaved with Optuna's GPSampler (default configuration) one run at a time,
# one problem per family first.  Run from the repository root:
#   nohup nice -n 10 sh benchmarks/multiobjective/chain_gp_runs.sh > /tmp/mo_chain.log 2>&1 &
set -e
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=.venv/bin/python
S=benchmarks/multiobjective/mo_vs_optuna.py
D=benchmarks/multiobjective
FAM=zdt1,nb201_cifar10,fcnet_protein
REST=zdt2,zdt3,dtlz2,nb201_cifar100,fcnet_parkinsons
$PY $S --methods hl_gp --problems $FAM --seeds 10 --out $D/mo_vs_optuna_hlgp.json
$PY $S --methods optuna_gp --problems fcnet_protein --seeds 1 --gp-seeds 1 --out $D/mo_vs_optuna_gp.json
$PY $S --methods hl_gp --problems $REST --seeds 10 --out $D/mo_vs_optuna_hlgp.json
for n in 2 3 4 5 6 7 8 9 10; do
  $PY $S --methods optuna_gp --problems $FAM --seeds $n --gp-seeds $n --out $D/mo_vs_optuna_gp.json
done
