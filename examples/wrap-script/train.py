"""A plain training script that knows nothing of hyperloom: argparse in, print() out.

Logistic regression by SGD on a synthetic two-blob problem, in pure Python. It prints one line per
epoch, `epoch=3 loss=0.4123 accuracy=0.8650`, and with --csv also writes the same to a CSV file.
"""

import argparse
import csv
import math
import random

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--l2", type=float, default=0.0)
parser.add_argument("--epochs", type=int, default=8)
parser.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum"])
parser.add_argument("--csv", help="also write the metrics to this CSV file")
args = parser.parse_args()

rng = random.Random(0)
data = [((rng.gauss(1, 1.2), rng.gauss(1, 1.2)), 1) for _ in range(150)]
data += [((rng.gauss(-1, 1.2), rng.gauss(-1, 1.2)), 0) for _ in range(150)]
rng.shuffle(data)
train, val = data[:200], data[200:]
w, b, vw, vb = [0.0, 0.0], 0.0, [0.0, 0.0], 0.0
beta = 0.9 if args.optimizer == "momentum" else 0.0


def predict(x):
    z = w[0] * x[0] + w[1] * x[1] + b
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


out = None
if args.csv:
    csv_file = open(args.csv, "w", newline="", buffering=1)  # noqa: SIM115 - open for the whole run
    out = csv.writer(csv_file)
    out.writerow(["epoch", "loss", "accuracy"])
for epoch in range(args.epochs):
    for x, y in train:
        g = predict(x) - y
        vw = [beta * vw[i] + g * x[i] + args.l2 * w[i] for i in range(2)]
        vb = beta * vb + g
        w = [w[i] - args.lr * vw[i] for i in range(2)]
        b -= args.lr * vb
    loss = -sum(math.log(max(1e-9, predict(x) if y else 1 - predict(x))) for x, y in val) / len(val)
    acc = sum((predict(x) > 0.5) == bool(y) for x, y in val) / len(val)
    print(f"epoch={epoch} loss={loss:.4f} accuracy={acc:.4f}", flush=True)
    if out:
        out.writerow([epoch, f"{loss:.4f}", f"{acc:.4f}"])
print("done")
