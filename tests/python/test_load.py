"""gradscope.load on the runs tests/python.sh made: the tables hold the CSV
files' numbers, every row says its run (variant, seed, swept keys), dumps
read back, and the quantities the report draws match summary.json."""

import csv
import json
import math
import os

import numpy as np
import pytest

import gradscope

ACT = "model.layers.[0].activation"


def csv_rows(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    return rows[0], rows[1:]


def test_run_tables_hold_the_files_numbers(run_dir):
    runs = gradscope.load(run_dir)
    assert len(runs) == 1 and runs.keys == []
    header, rows = csv_rows(os.path.join(run_dir, "gradients.csv"))
    g = runs.gradients
    assert len(g) == len(rows) > 20
    col = header.index("grad_norm")
    for i in (0, len(rows) // 2, len(rows) - 1):
        assert g["grad_norm"].iloc[i] == float(rows[i][col])
        assert g["tensor"].iloc[i] == rows[i][header.index("tensor")]
    assert str(g["step"].dtype) == "int64" and str(g["layer"].dtype) == "int64"
    # detailed statistics are empty cells at other steps: NaN, not 0
    plain = g[g["step"] == 4]
    assert len(plain) and plain["weight_norm"].isna().all()
    assert g[g["step"] == 8]["weight_norm"].notna().all()
    assert set(g["run"]) == {"."} and set(g["variant"]) == {""} and set(g["seed"]) == {11}
    assert list(g.columns[:3]) == ["run", "variant", "seed"]


def test_run_summary_model_theory(run_dir):
    runs = gradscope.load(run_dir)
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    row = runs.summary.iloc[0]
    assert row["status"] == "completed" == s["status"]
    assert row["steps"] == s["steps"] == 18
    assert row["train_loss"] == s["train_loss"]
    assert row["format_version"] == 3
    assert not isinstance(row["detail"], str) and math.isnan(row["detail"])  # not stopped early
    assert row["verdict"] == s["verdict"] and row["verdict_layer"] == s["verdict_layer"]
    m = runs.model
    assert list(m["layer"]) == [0, 1, 2, 3]
    assert list(m["type"]) == ["dense"] * 4
    assert list(m["params"]) == [6 * 12 + 12, 12 * 12 + 12, 12 * 12 + 12, 12 * 3 + 3]
    t = runs.theory
    assert len(t) == 1 and t["activation"].iloc[0] == "tanh" and t["step"].iloc[0] == 0
    header, rows = csv_rows(os.path.join(run_dir, "theory.csv"))
    assert t["chi_predicted"].iloc[0] == float(rows[0][header.index("chi_predicted")])
    assert t["chi_predicted"].iloc[0] == pytest.approx(s["chi_predicted"], rel=1e-9)
    e = runs.epochs
    assert list(e["epoch"]) == [0, 1] and list(e["step"]) == [9, 18]
    assert list(e["seconds"]) == [float(r[-1]) for r in csv_rows(
        os.path.join(run_dir, "epochs.csv"))[1]]


def test_first_last_ratio_is_the_summarys(run_dir, quickstart_dir):
    for d in (run_dir, quickstart_dir):
        runs = gradscope.load(d)
        r = gradscope.first_last_ratio(runs)
        for run in runs.runs:
            mine = r[r["run"] == run.rel]
            last = mine[mine["step"] == mine["step"].max()]["ratio"].iloc[0]
            assert last == pytest.approx(run.summary["grad_ratio_first_last"], rel=1e-6)


def test_dump_reads_the_arrays(run_dir):
    runs = gradscope.load(run_dir)
    d = runs.dump(4)
    assert set(d) == {f"{layer}.{t}.{k}" for layer in range(4) for t in ("weight", "bias")
                      for k in ("value", "grad")}
    assert d["0.weight.value"].shape == (12, 6)  # dump/index.csv: 12x6
    assert d["3.bias.grad"].shape == (3,)
    assert d["0.weight.grad"].dtype == np.float32
    # the dumped gradient's norm is the one gradients.csv has at that step
    g = runs.gradients
    want = g[(g.step == 4) & (g.layer == 1) & (g.tensor == "weight")]["grad_norm"].iloc[0]
    assert float(np.linalg.norm(d["1.weight.grad"].astype(np.float64))) == \
        pytest.approx(want, rel=1e-5)
    assert set(runs.dumps["step"]) == set(runs.metrics["step"])
    with pytest.raises(KeyError, match="no dump at step 5"):
        runs.dump(5)


def test_experiment_variants(quickstart_dir):
    runs = gradscope.load(quickstart_dir)
    s = runs.summary
    assert list(s["variant"]) == ["sigmoid-normal", "relu-he"]
    assert list(s["seed"]) == [7, 7]
    assert list(s["run"]) == ["sigmoid-normal", "relu-he"]
    g = runs.gradients
    per = g.groupby("variant").size()
    assert per["sigmoid-normal"] == per["relu-he"] > 0
    # each variant's rows are its own file's
    for v in ("sigmoid-normal", "relu-he"):
        header, rows = csv_rows(os.path.join(quickstart_dir, v, "gradients.csv"))
        mine = g[g["variant"] == v]
        assert list(mine["grad_norm"]) == [float(r[header.index("grad_norm")]) for r in rows]
    assert set(runs.layers.groupby("variant")["type"].first()) == {"dense"}
    # one run of the experiment, loaded alone, keeps its variant
    one = gradscope.load(os.path.join(quickstart_dir, "relu-he"))
    assert one.summary["variant"].iloc[0] == "relu-he" and one.summary["seed"].iloc[0] == 7


def test_sweep_ids_and_groupby(sweep_dir):
    runs = gradscope.load(sweep_dir)
    assert runs.keys == [ACT]
    s = runs.summary
    assert len(s) == 8
    assert sorted(set(s[ACT])) == ["sigmoid", "tanh"]
    assert sorted(set(s["seed"])) == [1, 2]
    assert sorted(set(s["variant"])) == ["lr-large", "lr-small"]
    assert (s.groupby(["variant", ACT, "seed"]).size() == 1).all()
    assert (s["status"] == "completed").all()
    # every run's directory is named by its values, and its rows say them
    for r in runs.runs:
        assert f"activation={r.values[ACT]}" in r.rel and f"seed={r.seed}" in r.rel
        assert r.rel.endswith("/" + r.variant)
        with open(os.path.join(r.dir, "config.cfg")) as f:
            assert f'activation = {{\n        type = "{r.values[ACT]}";' in f.read()
    m = runs.metrics
    one = runs.run(variant="lr-large", seed=2, **{ACT: "sigmoid"})
    header, rows = csv_rows(os.path.join(one.dir, "metrics.csv"))
    mine = m[(m["variant"] == "lr-large") & (m["seed"] == 2) & (m[ACT] == "sigmoid")]
    assert list(mine["loss"]) == [float(r[header.index("loss")]) for r in rows]
    # series: none of these layers records one, so the table is empty, with its columns
    assert runs.series.empty and "axis" in runs.series.columns
    # bptt: no recurrent layer, no bptt.csv: empty too
    assert runs.bptt.empty and list(runs.bptt.columns)[-3:] == ["layer", "t", "grad_norm"]


def test_plots_draw(quickstart_dir, sweep_dir):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gradscope import plots
    qs = gradscope.load(quickstart_dir)
    fig, ax = plt.subplots()
    plots.gradient_flow(qs, ax=ax, steps=["first", "last"])
    assert len(ax.lines) == 4  # two variants at two steps
    assert len(ax.lines[0].get_xdata()) == 25
    fig, ax = plt.subplots()
    plots.heatmap(qs, ax=ax, variant="relu-he")
    img = ax.images[0].get_array()
    assert img.shape == (25, qs.metrics[qs.metrics.variant == "relu-he"]["step"].nunique())
    sw = gradscope.load(sweep_dir)
    fig, ax = plt.subplots()
    plots.ratio(sw, ax=ax, by="variant")
    assert len(ax.lines) == 3  # two variants and the line at 1
    assert len(ax.collections) == 2  # a band for each: four runs apiece
    # the median line is the median over the variant's four runs
    r = gradscope.first_last_ratio(sw)
    small = r[r["variant"] == ax.lines[0].get_label()]
    med = small.groupby("step")["ratio"].median()
    assert list(ax.lines[0].get_ydata()) == pytest.approx(list(med))
    plt.close("all")


def test_series(run_copy):
    """No layer of these runs records a series (the recurrent layers do, per
    time step); a series.csv in the format's shape reads as a table whose
    index and values pivot over time."""
    rows = ["step,layer,name,axis,index,value"]
    for step in (0, 4):
        for t in range(3):
            rows.append(f"{step},1,dL/dh_l0,time,{t},{(step + 1) * 10.0 ** -t!r}")
    rows.append("4,2,f0.weight,channel,0,nan")
    with open(os.path.join(run_copy, "series.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    s = gradscope.load(run_copy).series
    assert len(s) == 7
    assert str(s["index"].dtype) == "int64" and s["axis"].iloc[0] == "time"
    time = s[s["axis"] == "time"].pivot(index="index", columns="step", values="value")
    assert list(time[4]) == [5.0, 0.5, 0.05]
    assert math.isnan(s["value"].iloc[-1])


def test_bptt(run_copy):
    """bptt.csv (a recurrent layer's ||dL/dh_t||) reads as a table with
    integer step, layer and t, one row per monitored step, layer and t."""
    rows = ["step,layer,t,grad_norm"]
    for step in (0, 4):
        for t in range(3):
            rows.append(f"{step},1,{t},{(step + 1) * 10.0 ** -t!r}")
    with open(os.path.join(run_copy, "bptt.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    b = gradscope.load(run_copy).bptt
    assert len(b) == 6
    assert all(str(b[c].dtype) == "int64" for c in ("step", "layer", "t"))
    by_t = b.pivot(index="t", columns="step", values="grad_norm")
    assert list(by_t[4]) == [5.0, 0.5, 0.05]
