#!/bin/sh
# Session 6: Optuna's GPSampler (default configuration) towards 10 seeds, the contested family
# first (NAS-Bench-201), then FCNet, then the synthetic problems; seeds interleaved across the
# problems of a family so a stop leaves them balanced. Each run is saved as it ends.
# Usage: nohup nice -n 10 sh benchmarks/multiobjective/chain_gp_runs5.sh > /tmp/gp5.log 2>&1 &
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=.venv/bin/python
S=benchmarks/multiobjective/mo_vs_optuna.py
D=benchmarks/multiobjective
for fam in nb201_cifar100,nb201_cifar10 fcnet_parkinsons,fcnet_protein zdt1,zdt2,zdt3,dtlz2; do
  for k in 2 3 4 5 6 7 8 9 10; do
    $PY $S --methods optuna_gp --problems $fam --seeds $k --gp-seeds $k --out $D/mo_vs_optuna_gp.json
  done
done
