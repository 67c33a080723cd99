"""Quantities the report draws, from the loaded tables."""

import numpy as np
import pandas as pd


def _is_weight(tensors):
    """The tensors the monitor counts as a layer's weight: a plain layer's
    `weight`, a block's `f0.weight` and the like."""
    t = tensors.astype(str)
    return (t == "weight") | t.str.endswith(".weight")


def weight_gradients(runs, value="grad_norm"):
    """gradients.csv's rows of each layer's first weight tensor, the one the
    report's gradient-flow figures and heatmaps show: the id columns, step,
    layer, tensor and `value`."""
    g = runs.gradients
    ids = runs.id_columns
    w = g[_is_weight(g["tensor"])] if len(g) else g
    w = w.drop_duplicates(subset=["run", "step", "layer"], keep="first")
    return w[ids + ["step", "layer", "tensor", value]].reset_index(drop=True)


def first_last_ratio(runs):
    """Per run and monitored step, the gradient norm of the first weight
    tensor over that of the last (summary.json's grad_ratio_first_last is
    the value at the last monitored step): the id columns, step, ratio."""
    g = runs.gradients
    ids = runs.id_columns
    cols = ids + ["step", "ratio"]
    if not len(g):
        return pd.DataFrame(columns=cols)
    w = g[_is_weight(g["tensor"])]
    key = ["run", "step"]
    first = w.groupby(key, sort=False).head(1).set_index(key)
    last = w.groupby(key, sort=False).tail(1).set_index(key)
    out = first[[c for c in ids if c != "run"]].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = (first["grad_norm"].astype(float)
                        / last["grad_norm"].astype(float).reindex(first.index))
    out = out.reset_index()
    return out[cols]
