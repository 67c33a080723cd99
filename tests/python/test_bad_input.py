"""Bad input: an exception naming the path and what is wrong, never an
empty or shortened table."""

import json
import os
import re
import shutil

import pytest

import gradscope
from gradscope import FormatError


def test_not_a_directory(tmp_path):
    with pytest.raises(FormatError, match=re.escape(str(tmp_path / "nope")) + ": no such"):
        gradscope.load(tmp_path / "nope")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(FormatError, match="not a directory"):
        gradscope.load(f)


def test_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(FormatError, match=re.escape(str(tmp_path)) + ": not a run directory"):
        gradscope.load(tmp_path)


def test_truncated_csv_of_a_finished_run(run_copy):
    path = os.path.join(run_copy, "gradients.csv")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) - 9])  # cut inside the last row
    runs = gradscope.load(run_copy)
    with pytest.raises(FormatError, match=re.escape(path) + r":\d+: the last row has no line end"):
        runs.gradients


def test_cut_row_of_a_stopped_run_is_skipped_and_said(run_copy):
    """A run killed while writing (no summary.json) may leave a cut last
    row: the format says readers skip it; the reader warns."""
    path = os.path.join(run_copy, "gradients.csv")
    with open(path) as f:
        n = sum(1 for _ in f) - 1
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) - 9])
    os.remove(os.path.join(run_copy, "summary.json"))
    runs = gradscope.load(run_copy)
    assert runs.summary["status"].iloc[0] == "unfinished"
    with pytest.warns(UserWarning, match=re.escape(path)):
        g = runs.gradients
    assert len(g) == n - 1


def test_short_row_in_the_middle(run_copy):
    path = os.path.join(run_copy, "metrics.csv")
    with open(path) as f:
        lines = f.readlines()
    lines[3] = ",".join(lines[3].split(",")[:4]) + "\n"
    with open(path, "w") as f:
        f.writelines(lines)
    with pytest.raises(FormatError, match=re.escape(path) + ":4: 4 fields where the header has 10"):
        gradscope.load(run_copy).metrics


def test_not_a_number(run_copy):
    path = os.path.join(run_copy, "layers.csv")
    with open(path) as f:
        lines = f.readlines()
    cells = lines[2].split(",")
    cells[3] = "1.5x"
    lines[2] = ",".join(cells)
    with open(path, "w") as f:
        f.writelines(lines)
    with pytest.raises(FormatError, match=re.escape(path) +
                       r':3: column "input_grad_norm": "1.5x" is not a number'):
        gradscope.load(run_copy).layers


def test_missing_column(run_copy):
    path = os.path.join(run_copy, "paths.csv")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("step,layer,key,value", "step,layer,name,value", 1))
    with pytest.raises(FormatError, match=re.escape(path) + ': no column "key"'):
        gradscope.load(run_copy).paths


def test_missing_file(run_copy):
    path = os.path.join(run_copy, "layers.csv")
    os.remove(path)
    with pytest.raises(FormatError, match=re.escape(path) + ": missing"):
        gradscope.load(run_copy).layers


def test_empty_file(run_copy):
    path = os.path.join(run_copy, "epochs.csv")
    open(path, "w").close()
    with pytest.raises(FormatError, match=re.escape(path) + ": no header row"):
        gradscope.load(run_copy).epochs


def test_newer_summary_is_refused(run_copy):
    path = os.path.join(run_copy, "summary.json")
    with open(path) as f:
        s = json.load(f)
    s["format_version"] = gradscope.FORMAT_VERSION + 1
    with open(path, "w") as f:
        json.dump(s, f)
    with pytest.raises(FormatError, match=re.escape(path) + ": format version "
                       f"{gradscope.FORMAT_VERSION + 1} is newer"):
        gradscope.load(run_copy)


def test_damaged_summary(run_copy):
    path = os.path.join(run_copy, "summary.json")
    with open(path, "w") as f:
        f.write('{"status": "completed", "steps": 2')
    with pytest.raises(FormatError, match=re.escape(path) + ": damaged"):
        gradscope.load(run_copy)


def test_newer_model_csv_is_refused(run_copy):
    path = os.path.join(run_copy, "model.csv")
    with open(path) as f:
        text = f.read()
    assert text.startswith("# gradscope format 3\n")
    with open(path, "w") as f:
        f.write(text.replace("format 3", "format 4", 1))
    with pytest.raises(FormatError, match=re.escape(path) + ": format version 4 is newer"):
        gradscope.load(run_copy).model


def test_newer_index_is_refused(quickstart_dir, tmp_path):
    d = tmp_path / "exp"
    shutil.copytree(quickstart_dir, d)
    path = d / "index.csv"
    path.write_text(path.read_text().replace("format 3", "format 4", 1))
    with pytest.raises(FormatError, match=re.escape(str(path)) + ": format version 4 is newer"):
        gradscope.load(d)


def test_index_naming_a_missing_run(quickstart_dir, tmp_path):
    d = tmp_path / "exp"
    shutil.copytree(quickstart_dir, d)
    shutil.rmtree(d / "relu-he")
    with pytest.raises(FormatError, match=re.escape(str(d / "index.csv")) +
                       ": row 2: .*relu-he is not a directory"):
        gradscope.load(d)


def test_dump_file_missing(run_copy):
    path = os.path.join(run_copy, "dump", "step_00000004", "2.bias.grad.npy")
    assert os.path.exists(path)
    os.remove(path)
    with pytest.raises(FormatError, match=re.escape(path) + ": missing"):
        gradscope.load(run_copy).dump(4)


def test_pending_run_of_a_sweep_adds_no_rows(sweep_dir, tmp_path):
    """A sweep stopped early lists runs not started as pending: they have a
    summary row saying so, and no rows elsewhere."""
    d = tmp_path / "sweep"
    shutil.copytree(sweep_dir, d)
    index = d / "index.csv"
    lines = index.read_text().split("\n")
    assert lines[2].startswith('"activation=tanh,seed=1/lr-small",')
    lines[2] = lines[2].replace(",completed,", ",pending,")
    index.write_text("\n".join(lines))
    shutil.rmtree(d / "activation=tanh,seed=1" / "lr-small")
    runs = gradscope.load(d)
    s = runs.summary
    assert list(s["status"]) == ["pending"] + ["completed"] * 7
    assert s["steps"].isna().iloc[0] and s["steps"].notna()[1:].all()
    g = runs.gradients
    assert set(g["run"]) == set(s["run"][1:])


def test_unknown_status_in_index(quickstart_dir, tmp_path):
    d = tmp_path / "exp"
    shutil.copytree(quickstart_dir, d)
    path = d / "index.csv"
    path.write_text(path.read_text().replace(",completed", ",finished", 1))
    with pytest.raises(FormatError, match=re.escape(str(path)) + ': row 1: status "finished"'):
        gradscope.load(d)


def test_format_1_lacks_later_columns(run_copy):
    """A run of format 1 (no format_version) whose log lacks a column added
    since reads with NaN there; the same file in a format 2 run is damaged."""
    path = os.path.join(run_copy, "metrics.csv")
    with open(path) as f:
        lines = [",".join(line.rstrip("\n").split(",")[:-2]) + "\n" for line in f]
    with open(path, "w") as f:
        f.writelines(lines)
    with pytest.raises(FormatError, match=re.escape(path) + ': no column "test_loss"'):
        gradscope.load(run_copy).metrics
    spath = os.path.join(run_copy, "summary.json")
    with open(spath) as f:
        s = json.load(f)
    del s["format_version"]
    with open(spath, "w") as f:
        json.dump(s, f)
    runs = gradscope.load(run_copy)
    assert runs.summary["format_version"].iloc[0] == 1
    m = runs.metrics
    assert m["test_accuracy"].isna().all() and m["loss"].notna().all()
    assert list(m.columns[-2:]) == ["test_loss", "test_accuracy"]
