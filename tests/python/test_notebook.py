"""examples/notebooks/gradscope.ipynb runs end to end on the test's runs
(GRADSCOPE_QUICKSTART, GRADSCOPE_SWEEP): through Jupyter (nbclient) where it
and a Python kernel are installed, else its code cells in order as plain
Python in one namespace, which is what a kernel would run."""

import json
import os

import pytest

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "notebooks",
                        "gradscope.ipynb")


def _code_cells():
    with open(NOTEBOOK, encoding="utf-8") as f:
        nb = json.load(f)
    assert nb["nbformat"] == 4
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _have_jupyter():
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
        import ipykernel  # noqa: F401
    except ImportError:
        return False
    return True


def test_notebook_runs_as_python():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.close("all")
    ns = {"__name__": "__main__"}
    for i, src in enumerate(_code_cells()):
        code = compile(src, f"{NOTEBOOK}[cell {i}]", "exec")
        exec(code, ns)  # noqa: S102 - the notebook is ours
    # the figures it draws: gradient flow and ratio, two heatmaps, the sweep's two
    assert len(plt.get_fignums()) == 3
    axes = [ax for n in plt.get_fignums() for ax in plt.figure(n).axes]
    titles = [ax.get_title() for ax in axes]
    assert titles.count("Gradient flow") == 2 and titles.count("First/last gradient ratio") == 2
    assert sum("layer × step" in t for t in titles) == 2
    assert len(ns["sw"]) == 8 and len(ns["qs"]) == 2
    plt.close("all")


@pytest.mark.skipif(not _have_jupyter(), reason="nbclient, nbformat or ipykernel not installed")
def test_notebook_runs_in_jupyter():
    import nbclient
    import nbformat
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
