"""gradscope: read gradscope's run directories into pandas DataFrames.

    import gradscope
    runs = gradscope.load("runs/quickstart")     # a run, an experiment, a sweep
    runs.gradients.groupby(["variant", "layer"]).grad_norm.median()
    runs.dump(0)                                   # {"0.weight.grad": array, ...}

See docs/PYTHON.md; the files and columns are docs/FORMAT.md's.
"""

from ._format import FORMAT_VERSION
from .reader import FormatError, Run, Runs, load, read_summary, read_table
from .analysis import first_last_ratio, weight_gradients

__all__ = ["FORMAT_VERSION", "FormatError", "Run", "Runs", "load", "read_summary",
           "read_table", "first_last_ratio", "weight_gradients"]
__version__ = "0.1"
