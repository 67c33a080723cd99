"""The report's key figures, drawn with matplotlib into the caller's axes.

Each function takes a Runs object (gradscope.load) and an Axes (a new
figure's when None) and returns the Axes.  Runs that differ only by seed
are drawn as one line, their median, with a band from the smallest to the
largest value (`band="iqr"`: the 25th to 75th percentile).  matplotlib is
imported only here, so the reader works without it.
"""

import numpy as np

from .analysis import first_last_ratio, weight_gradients


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots()
    return ax


def _group_columns(runs, by):
    """The columns that tell the lines apart: `by`, or the variant and the
    swept keys other than the seed, or the run when nothing else does."""
    if by is not None:
        return [by] if isinstance(by, str) else list(by)
    s = runs.summary
    cols = [c for c in ["variant"] + runs.keys if c != "seed" and s[c].nunique(dropna=False) > 1]
    if cols:
        return cols
    return [] if s["seed"].nunique() == len(s) else ["run"]


def _groups(frame, cols):
    """(key tuple, rows) for each group of `cols`, in order of appearance."""
    if not cols:
        return [((), frame)]
    if len(cols) == 1:
        return [((k,), g) for k, g in frame.groupby(cols[0], sort=False)]
    return list(frame.groupby(cols, sort=False))


def _label(cols, key):
    if not cols:
        return "all runs"
    if len(cols) == 1 and cols[0] in ("variant", "run"):
        return str(key[0])
    return ", ".join(f"{c}={v}" for c, v in zip(cols, key))


def _band(values, band):
    lo, hi = (25, 75) if band == "iqr" else (0, 100)
    return np.nanpercentile(values, lo), np.nanpercentile(values, hi)


def _median_band(ax, frame, x, y, cols, band, **kw):
    """One line per group of `cols`: the median of `y` over the group's runs
    at each `x`, and the band between them."""
    for key, g in _groups(frame, cols):
        stats = g.groupby(x)[y].agg(
            median="median",
            lo=lambda v: _band(v.to_numpy(float), band)[0],
            hi=lambda v: _band(v.to_numpy(float), band)[1])
        label = kw.pop("label", None) or _label(cols, key)
        line, = ax.plot(stats.index, stats["median"], label=label, **kw)
        if g["run"].nunique() > 1:
            ax.fill_between(stats.index, stats["lo"], stats["hi"], color=line.get_color(),
                            alpha=0.2, linewidth=0)
    return ax


def _pick_steps(w, steps):
    """Steps of each run: numbers, or "first", "middle", "last" of that run's
    monitored steps."""
    out = []
    for run, g in w.groupby("run", sort=False):
        have = np.sort(g["step"].unique())
        for s in steps:
            if s == "first":
                out.append((run, have[0], s))
            elif s == "last":
                out.append((run, have[-1], s))
            elif s == "middle":
                out.append((run, have[len(have) // 2], s))
            elif s in have:
                out.append((run, s, f"step {s}"))
            else:
                raise ValueError(f"run {run}: step {s} was not monitored "
                                 f"(first {have[0]}, last {have[-1]})")
    return out


def gradient_flow(runs, ax=None, steps=("first", "middle", "last"), by=None, band="range"):
    """Per-layer weight-gradient norm ‖∂L/∂W‖ at the chosen steps (numbers or
    "first", "middle", "last"), log scale: the report's gradient-flow figure."""
    import pandas as pd
    ax = _axes(ax)
    w = weight_gradients(runs)
    cols = _group_columns(runs, by)
    picked = pd.DataFrame(_pick_steps(w, steps), columns=["run", "step", "at"])
    w = w.merge(picked, on=["run", "step"])
    for at in dict.fromkeys(picked["at"]):
        part = w[w["at"] == at]
        for key, g in _groups(part, cols):
            name = _label(cols, key)
            _median_band(ax, g, "layer", "grad_norm", [], band,
                         label=f"{name}, {at}" if cols else at)
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("‖∂L/∂W‖")
    ax.set_title("Gradient flow")
    ax.legend(fontsize="small")
    return ax


def heatmap(runs, ax=None, which=None, value="grad_norm", **match):
    """log10 of a layer's weight-gradient norm (or another gradients.csv
    column) over layers × monitored steps, for one run (as Runs.run picks
    it): the report's heatmap."""
    ax = _axes(ax)
    run = runs.run(which, **match)
    w = weight_gradients(runs, value)
    w = w[w["run"] == run.rel]
    grid = w.pivot(index="layer", columns="step", values=value).sort_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(grid.to_numpy(float))
    steps = grid.columns.to_numpy()
    layers = grid.index.to_numpy()
    img = ax.imshow(np.ma.masked_invalid(z), aspect="auto", origin="lower", cmap="viridis",
                    interpolation="nearest",
                    extent=(steps[0], steps[-1] if len(steps) > 1 else steps[0] + 1,
                            layers[0] - 0.5, layers[-1] + 0.5))
    ax.figure.colorbar(img, ax=ax, label=f"log10 {value}")
    ax.set_xlabel("step")
    ax.set_ylabel("layer")
    name = run.variant or run.rel
    ax.set_title(f"{name}: log10 {value}, layer × step")
    return ax


def ratio(runs, ax=None, by=None, band="range"):
    """The first weight tensor's gradient norm over the last one's, at every
    monitored step, every group of runs on one axis (log scale): below 1
    the gradient shrinks on its way to the input, above 1 it grows."""
    ax = _axes(ax)
    r = first_last_ratio(runs)
    _median_band(ax, r, "step", "ratio", _group_columns(runs, by), band)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("‖∂L/∂W first‖ / ‖∂L/∂W last‖")
    ax.set_title("First/last gradient ratio")
    ax.legend(fontsize="small")
    return ax
