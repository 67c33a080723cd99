"""The run-directory format (docs/FORMAT.md), as this reader knows it.

The C program defines the format once, in core/rundir/format.c.  This table
is the Python reader's copy of those names: tests/python/test_format_tables.py
compares it, entry for entry and in order, with the tables that
tests/python/format_json (compiled from format.c) prints, so a column added
to the writer fails the test suite until it is added here too.
"""

#: The newest format version this reader understands: summary.json's
#: "format_version" and the "# gradscope format N" line of model.csv and
#: index.csv.  A newer one is refused (FormatError).
FORMAT_VERSION = 3

#: attribute name -> (file relative to the run directory, its columns in order)
TABLES = {
    "metrics": ("metrics.csv", ("step", "epoch", "loss", "accuracy", "lr", "grad_norm",
                                "val_loss", "val_accuracy", "test_loss", "test_accuracy")),
    "gradients": ("gradients.csv", ("step", "layer", "tensor", "grad_norm", "weight_norm",
                                    "grad_max_abs", "update_ratio")),
    "layers": ("layers.csv", ("step", "layer", "type", "input_grad_norm", "act_mean",
                              "act_std", "dead_fraction", "saturated_fraction")),
    "paths": ("paths.csv", ("step", "layer", "key", "value")),
    "epochs": ("epochs.csv", ("epoch", "step", "train_loss", "train_accuracy", "val_loss",
                              "val_accuracy", "test_loss", "test_accuracy", "seconds")),
    "histograms": ("histograms.csv", ("step", "layer", "tensor", "log10_lo", "log10_hi",
                                      "count")),
    "dumps": ("dump/index.csv", ("step", "layer", "tensor", "kind", "file", "shape")),
    "series": ("series.csv", ("step", "layer", "name", "axis", "index", "value")),
    "bptt": ("bptt.csv", ("step", "layer", "t", "grad_norm")),
    "theory": ("theory.csv", ("first_layer", "last_layer", "activation", "sigma_w2",
                              "sigma_b2", "q_star", "chi_predicted", "chi_measured", "q_in",
                              "chi_path", "stack", "note", "step", "weight", "rho",
                              "sigma_max")),
    "model": ("model.csv", ("layer", "name", "type", "kind", "layout", "in_shape",
                            "out_shape", "params")),
}

#: index.csv's fixed columns; the swept keys follow them.
INDEX = ("index.csv", ("path", "variant", "seed", "status"))

#: summary.json's keys, in the order they are written ("detail" only when the
#: run stopped early).
SUMMARY_KEYS = ("status", "detail", "steps", "train_loss", "train_accuracy", "val_loss",
                "val_accuracy", "test_loss", "test_accuracy", "wall_time_s",
                "grad_ratio_first_last", "verdict", "verdict_layer", "verdict_step",
                "verdict_t", "verdict_detail", "chi_predicted", "chi_measured", "chi_path",
                "gradscope_version", "format_version")

#: A run's status in summary.json, and the ones index.csv adds.
STATUSES = ("completed", "diverged", "interrupted")
INDEX_STATUSES = ("unfinished", "pending", "damaged")
VERDICTS = ("healthy", "vanishing", "exploding")

#: Columns holding text; every other column is a number (an empty cell, a
#: value not recorded at that row, reads as NaN).
TEXT_COLUMNS = frozenset(("tensor", "type", "key", "name", "axis", "kind", "file", "shape",
                          "layout", "in_shape", "out_shape", "activation", "path", "variant",
                          "status", "stack", "note", "weight"))

#: Files of a run directory and of the root of an experiment or sweep.
FILE_CONFIG = "config.cfg"
FILE_SUMMARY = "summary.json"
FILE_INDEX = "index.csv"
DIR_DUMP = "dump"
