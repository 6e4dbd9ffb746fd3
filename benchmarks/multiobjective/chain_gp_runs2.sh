#!/bin/sh
# Second half of chain_gp_runs.sh, reordered when hl_gp's runs turned out to take 1-6 min each at
# load 8-12: hyperloom's gp on the synthetic family first (few seeds), then one Optuna GPSampler
# run on FCNet (the family it has none on), then the remaining hl_gp seeds.
# Usage: nohup nice -n 10 sh benchmarks/multiobjective/chain_gp_runs2.sh [PID_TO_WAIT_FOR] &
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=.venv/bin/python
S=benchmarks/multiobjective/mo_vs_optuna.py
D=benchmarks/multiobjective
if [ -n "$1" ]; then while kill -0 "$1" 2>/dev/null; do sleep 5; done; fi
SYN=zdt2,zdt3,dtlz2
$PY $S --methods hl_gp --problems $SYN --seeds 3 --out $D/mo_vs_optuna_hlgp.json
$PY $S --methods optuna_gp --problems fcnet_protein --seeds 1 --gp-seeds 1 --out $D/mo_vs_optuna_gp.json
$PY $S --methods hl_gp --problems $SYN --seeds 10 --out $D/mo_vs_optuna_hlgp.json
$PY $S --methods hl_gp --problems nb201_cifar100,fcnet_parkinsons --seeds 10 --out $D/mo_vs_optuna_hlgp.json
for n in 2 3; do
  $PY $S --methods optuna_gp --problems zdt1,nb201_cifar10,fcnet_protein --seeds $n --gp-seeds $n --out $D/mo_vs_optuna_gp.json
done
