#!/bin/sh
# After chain_gp_runs3.sh: Optuna's GPSampler (default configuration) on one problem per family,
# seeds 1 and 2 (its FCNet-protein run took 291 s at load ~10, far less than the 20-47 min
# of the earlier runs at load 40+).
# Usage: nohup nice -n 10 sh benchmarks/multiobjective/chain_gp_runs4.sh [PID_TO_WAIT_FOR] &
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=.venv/bin/python
S=benchmarks/multiobjective/mo_vs_optuna.py
D=benchmarks/multiobjective
if [ -n "$1" ]; then while kill -0 "$1" 2>/dev/null; do sleep 5; done; fi
$PY $S --methods optuna_gp --problems fcnet_protein,zdt1,nb201_cifar10 --seeds 3 --gp-seeds 3 --out $D/mo_vs_optuna_gp.json
$PY $S --methods optuna_gp --problems fcnet_parkinsons,zdt2,nb201_cifar100 --seeds 1 --gp-seeds 1 --out $D/mo_vs_optuna_gp.json
