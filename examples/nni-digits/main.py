"""An NNI trial, written for NNI and left unchanged: an SVM on scikit-learn's digits.

It asks NNI for its hyperparameters, reports the mean accuracy over the cross-validation folds
seen so far after each fold (intermediate results, for the assessor), then the held-out test
accuracy as the final result. hyperloom runs it as is: with the real nni package installed, or
with hyperloom's light ``nni`` shim (``nniCompat: shim``) when it is not.
"""

import logging

import nni
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import KFold, train_test_split
from sklearn.svm import SVC

LOG = logging.getLogger("digits")


def get_default_parameters():
    return {"C": 1.0, "kernel": "rbf", "gamma": 0.001, "degree": 3, "coef0": 0.0}


def run(params):
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scores = []
    folds = KFold(n_splits=4, shuffle=True, random_state=0)
    for fold, (tr, va) in enumerate(folds.split(X_train)):
        model = SVC(**params).fit(X_train[tr], y_train[tr])
        scores.append(model.score(X_train[va], y_train[va]))
        nni.report_intermediate_result({"default": float(np.mean(scores)), "fold": fold})
    model = SVC(**params).fit(X_train, y_train)
    test_acc = model.score(X_test, y_test)
    print(f"test accuracy {test_acc:.4f} with {params}")
    nni.report_final_result(np.float64(test_acc))


if __name__ == "__main__":
    try:
        params = get_default_parameters()
        params.update(nni.get_next_parameter() or {})
        LOG.debug("params %s", params)
        run(params)
    except Exception:
        LOG.exception("trial failed")
        raise
