#!/bin/sh
# Third ordering of the session's GP runs (issue 19): hyperloom's gp gets 3 seeds on every problem
# first (the family scores count a method only where it ran on every problem of the family), then
# one Optuna GPSampler run (default configuration) on FCNet-protein, then hl_gp's other seeds.
# Usage: nohup nice -n 10 sh benchmarks/multiobjective/chain_gp_runs3.sh [PID_TO_WAIT_FOR] &
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=.venv/bin/python
S=benchmarks/multiobjective/mo_vs_optuna.py
D=benchmarks/multiobjective
if [ -n "$1" ]; then while kill -0 "$1" 2>/dev/null; do sleep 5; done; fi
SYN=zdt2,zdt3,dtlz2
$PY $S --methods hl_gp --problems $SYN,nb201_cifar100,fcnet_parkinsons --seeds 3 --out $D/mo_vs_optuna_hlgp.json
$PY $S --methods optuna_gp --problems fcnet_protein --seeds 1 --gp-seeds 1 --out $D/mo_vs_optuna_gp.json
$PY $S --methods hl_gp --problems $SYN,nb201_cifar100,fcnet_parkinsons --seeds 10 --out $D/mo_vs_optuna_hlgp.json
