"""Reading run directories into pandas DataFrames (see docs/PYTHON.md).

Every table is read through the format's definition (_format.py, checked
against the C program's): the header must hold every column the format
names, numbers must parse, every row must have the header's field count.
Anything else is a FormatError naming the file (and line), never a table
with rows missing.
"""

import csv
import io
import json
import math
import os
import re
import warnings

import numpy as np
import pandas as pd

from . import _format as fmt


class FormatError(ValueError):
    """A file or directory that is not what the run-directory format says.

    The message starts with the path (and ``:LINE`` where there is one).
    """


# Columns whose numbers are counts or indices: int64 when every cell is an
# integer (an empty cell, a value not recorded, makes the column float).
_INT_COLUMNS = frozenset(("step", "layer", "epoch", "count", "index", "params", "first_layer",
                          "last_layer", "seed", "t"))
_VERSION_LINE = re.compile(r"#\s*gradscope format\s+(\d+)\s*$")


# ---- one CSV file ----

def _read_lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FormatError(f"{path}: missing") from None
    except OSError as e:
        raise FormatError(f"{path}: {e.strerror}") from None
    if b"\0" in data:
        raise FormatError(f"{path}: not a text file (NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"{path}: not UTF-8 text (byte {e.start})") from None


def _split(path, lineno, line):
    try:
        return next(csv.reader([line], strict=True))
    except (csv.Error, StopIteration) as e:
        raise FormatError(f"{path}:{lineno}: not a CSV row ({e})") from None


def _numbers(path, name, cells, where):
    """A column of number cells (an object array of str) as an array; an
    empty cell is NaN.  FormatError names a bad cell and its line."""
    if name in _INT_COLUMNS:
        try:
            return cells.astype(np.int64)
        except (ValueError, OverflowError):
            pass  # an empty or non-integer cell: read as floats below
    filled = cells.copy()
    filled[filled == ""] = "nan"
    try:
        return filled.astype(np.float64)
    except ValueError:
        pass
    for r, c in enumerate(filled):
        try:
            float(c)
        except ValueError:
            raise FormatError(f"{path}:{where(r)}: column \"{name}\": \"{c}\" is not a number") \
                from None
    raise AssertionError("unreachable")


def _maybe_numbers(cells):
    """A swept key's values: numbers when every one is, else the text."""
    try:
        vals = [float(c) for c in cells]
    except ValueError:
        return list(cells)
    if all(v.is_integer() and re.fullmatch(r"[-+]?\d+", c) for v, c in zip(vals, cells)):
        return np.array([int(c) for c in cells], dtype=np.int64)
    return np.array(vals, dtype=np.float64)


def read_table(path, columns, partial_last_row_ok=False, older=False):
    """One CSV file of the format as a DataFrame.

    columns: the format's columns, every one required in the header (extra
    columns are kept, as text or numbers).  Returns (frame, version), the
    version of a "# gradscope format N" line before the header or None.
    A last row without its line end (a run killed while writing) is skipped
    with a warning when partial_last_row_ok, else it is an error.  `older`:
    the file is of a format version before this one, whose tables may lack
    columns added since (read as NaN) rather than being damaged.
    """
    text = _read_lines(path)
    lines = text.split("\n")
    # the file ends with "\n": the piece after it is empty; else it is cut
    cut = lines.pop()
    version = None
    n = 0
    while n < len(lines) and lines[n].startswith("#"):
        m = _VERSION_LINE.match(lines[n].rstrip("\r"))
        if m:
            version = int(m.group(1))
            if version > fmt.FORMAT_VERSION:
                raise FormatError(f"{path}: format version {version} is newer than this "
                                  f"reader's ({fmt.FORMAT_VERSION}): update gradscope")
        n += 1
    if n >= len(lines) or not lines[n].rstrip("\r"):
        raise FormatError(f"{path}: no header row" + (" (the file is cut off)" if cut else ""))
    header = _split(path, n + 1, lines[n].rstrip("\r"))
    absent = [c for c in columns if c not in header]
    if absent and not older:
        raise FormatError(f"{path}: no column \"{absent[0]}\" in its header")
    rows, where = _rows(path, lines, n + 1, len(header))
    if cut:
        what = f"{path}:{len(lines) + 1}: the last row has no line end (the file is cut off)"
        if not partial_last_row_ok:
            raise FormatError(what)
        warnings.warn(what + "; skipped, as the run was stopped while writing it", stacklevel=3)
    data = {}
    for k, name in enumerate(header):
        cells = rows[:, k]
        if name in fmt.TEXT_COLUMNS:
            data[name] = cells
        elif name in columns:
            data[name] = _numbers(path, name, cells, where)
        else:
            data[name] = _maybe_numbers(list(cells)) if len(cells) else cells
    for c in absent:
        data[c] = np.full(len(rows), math.nan)
    return pd.DataFrame(data, columns=header + absent), version


def _rows(path, lines, first, ncol):
    """The cells of lines[first:] (blank lines skipped) as an object array of
    rows x ncol, and a function from a row to its line number (from 1)."""
    body = [line.rstrip("\r") for line in lines[first:]]
    blank = [i for i, line in enumerate(body) if not line]
    if blank:
        keep = [i for i, line in enumerate(body) if line]
        body = [body[i] for i in keep]
        where = lambda r: first + keep[r] + 1  # noqa: E731
    else:
        where = lambda r: first + r + 1  # noqa: E731
    if not any('"' in line for line in body):
        # no quoted cell: a row's fields are its commas plus one
        for r, line in enumerate(body):
            if line.count(",") != ncol - 1:
                raise FormatError(f"{path}:{where(r)}: {line.count(',') + 1} fields where the "
                                  f"header has {ncol}")
        if not body:
            return np.empty((0, ncol), dtype=object), where
        cells = pd.read_csv(io.StringIO("\n".join(body)), header=None, names=range(ncol),
                            dtype=str, na_filter=False, quoting=csv.QUOTE_NONE, engine="c")
        return cells.to_numpy(dtype=object), where
    rows = []
    for r, line in enumerate(body):
        cells = _split(path, where(r), line)
        if len(cells) != ncol:
            raise FormatError(f"{path}:{where(r)}: {len(cells)} fields where the header has "
                              f"{ncol}")
        rows.append(cells)
    out = np.empty((len(rows), ncol), dtype=object)
    for r, cells in enumerate(rows):
        out[r, :] = cells
    return out, where


# ---- summary.json ----

def read_summary(path):
    """summary.json as a dict (None for null), its format version checked."""
    try:
        with open(path, encoding="utf-8") as f:
            s = json.load(f)
    except FileNotFoundError:
        raise FormatError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: damaged ({e})") from None
    if not isinstance(s, dict):
        raise FormatError(f"{path}: damaged (not a JSON object)")
    if s.get("status") not in fmt.STATUSES:
        raise FormatError(f"{path}: damaged (\"status\" is {s.get('status')!r}, not one of "
                          f"{', '.join(fmt.STATUSES)})")
    v = s.get("format_version", 1)  # files before format 2 had none
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise FormatError(f"{path}: damaged (\"format_version\" is {v!r})")
    if v > fmt.FORMAT_VERSION:
        raise FormatError(f"{path}: format version {v} is newer than this reader's "
                          f"({fmt.FORMAT_VERSION}): update gradscope")
    s["format_version"] = v
    return s


def _config_seed(path):
    """The top-level seed of a resolved config.cfg, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"seed\s*[=:]\s*(-?\d+)\s*;", line)
                if m:
                    return int(m.group(1))
    except OSError:
        pass
    return None


# ---- runs ----

# The logs every started run has from its first step (format 2; format 1
# had no model.csv).
_STARTED_TABLES = ("metrics", "gradients", "layers", "paths", "epochs", "histograms", "model")


class Run:
    """One run directory: its place in the collection and its files."""

    def __init__(self, root, rel, variant="", seed=None, values=None):
        self.root = root
        self.rel = rel
        self.dir = os.path.normpath(os.path.join(root, rel))
        self.variant = variant
        self.values = dict(values or {})
        summary_path = os.path.join(self.dir, fmt.FILE_SUMMARY)
        self.summary = read_summary(summary_path) if os.path.exists(summary_path) else None
        if self.summary is not None:
            self.status = self.summary["status"]
            self.format_version = self.summary["format_version"]
        else:
            started = os.path.exists(os.path.join(self.dir, fmt.TABLES["metrics"][0]))
            self.status = "unfinished" if started else "pending"
            self.format_version = fmt.FORMAT_VERSION
        self.seed = seed if seed is not None else _config_seed(os.path.join(self.dir,
                                                                            fmt.FILE_CONFIG))

    @property
    def started(self):
        return self.status != "pending"

    def table(self, name):
        """The run's table `name` (a key of _format.TABLES), or None when the
        run has no such file and need not have one."""
        file, columns = fmt.TABLES[name]
        path = os.path.join(self.dir, file)
        if not os.path.exists(path):
            if not self.started:
                return None
            if name in ("series", "bptt", "dumps"):
                # written only when a layer records a series / has a
                # recurrent layer / with monitor.dump
                return None
            if name == "theory" and self.summary is None and self.format_version < 3:
                return None  # format 2 wrote it when the run ended
            if name == "model" and self.format_version < 2:
                return None
            raise FormatError(f"{path}: missing (every started run has it)")
        frame, _ = read_table(path, columns, partial_last_row_ok=self.summary is None,
                              older=self.format_version < fmt.FORMAT_VERSION)
        return frame

    def dump(self, step):
        """The tensors dumped at `step`: {"LAYER.TENSOR.KIND": array}."""
        idx = self.table("dumps")
        index_path = os.path.join(self.dir, fmt.TABLES["dumps"][0])
        if idx is None:
            raise FormatError(f"{index_path}: missing (the run was not made with "
                              "monitor.dump = true)")
        rows = idx[idx["step"] == step]
        if rows.empty:
            steps = sorted(set(idx["step"]))
            raise KeyError(f"{index_path}: no dump at step {step}; steps dumped: "
                           f"{', '.join(map(str, steps)) or 'none'}")
        out = {}
        for r in rows.itertuples(index=False):
            path = os.path.join(self.dir, r.file)
            try:
                a = np.load(path, allow_pickle=False)
            except FileNotFoundError:
                raise FormatError(f"{path}: missing (listed in {index_path})") from None
            except (OSError, ValueError) as e:
                raise FormatError(f"{path}: not a .npy file ({e})") from None
            shape = tuple(int(d) for d in str(r.shape).split("x")) if r.shape != "" else ()
            if a.shape != shape and a.size == int(np.prod(shape)) and a.ndim <= 1:
                a = a.reshape(shape)
            if a.shape != shape:
                raise FormatError(f"{path}: shape {a.shape}, but {index_path} says {r.shape}")
            out[f"{r.layer}.{r.tensor}.{r.kind}"] = a
        return out


def _index(root):
    """index.csv of an experiment with variants or a sweep: its rows and the
    swept keys."""
    path = os.path.join(root, fmt.FILE_INDEX)
    frame, _ = read_table(path, fmt.INDEX[1])
    keys = [c for c in frame.columns if c not in fmt.INDEX[1]]
    ok = fmt.STATUSES + fmt.INDEX_STATUSES
    for i, s in enumerate(frame["status"]):
        if s not in ok:
            raise FormatError(f"{path}: row {i + 1}: status \"{s}\" is not one of "
                              f"{', '.join(ok)}")
    if frame.empty:
        raise FormatError(f"{path}: no runs listed")
    return frame, keys


def _is_run(d):
    return any(os.path.exists(os.path.join(d, f))
               for f in (fmt.FILE_CONFIG, fmt.FILE_SUMMARY, fmt.TABLES["metrics"][0]))


class Runs:
    """Runs loaded by load(): one, the variants of an experiment, or a sweep.

    Every table attribute is one DataFrame over all runs, whose first
    columns say which run a row is from: ``run`` (the directory, relative to
    the loaded one), ``variant`` ("" without variants), ``seed``, then one
    column per swept key.  Tables are read on first use.
    """

    def __init__(self, path, runs, keys):
        self.path = path
        self.runs = runs
        self.keys = list(keys)
        self._cache = {}

    @property
    def id_columns(self):
        return ["run", "variant", "seed"] + self.keys

    def _ids(self, r):
        return [r.rel, r.variant, r.seed] + [r.values.get(k) for k in self.keys]

    def _with_ids(self, frame, r):
        ids = self._ids(r)
        for pos, (name, v) in enumerate(zip(self.id_columns, ids)):
            if name in frame.columns:  # a table column of that name wins
                continue
            frame.insert(pos, name, [v] * len(frame))
        return frame

    def _table(self, name):
        if name not in self._cache:
            columns = fmt.TABLES[name][1]
            parts = []
            for r in self.runs:
                t = r.table(name)
                if t is not None and len(t):
                    parts.append(self._with_ids(t, r))
            if parts:
                frame = pd.concat(parts, ignore_index=True)
            else:
                frame = pd.DataFrame(columns=self.id_columns + list(columns))
            self._cache[name] = frame
        return self._cache[name]

    def __getattr__(self, name):
        if name in fmt.TABLES:
            return self._table(name)
        raise AttributeError(name)

    def __dir__(self):
        return list(super().__dir__()) + list(fmt.TABLES)

    @property
    def summary(self):
        """One row per run: the ids, then summary.json's keys (NaN, or the
        status alone, for a run that has not ended)."""
        if "summary" not in self._cache:
            rows = []
            for r in self.runs:
                s = dict(r.summary or {"status": r.status})
                row = dict(zip(self.id_columns, self._ids(r)))
                for k in fmt.SUMMARY_KEYS:
                    v = s.get(k)
                    row[k] = math.nan if v is None else v
                rows.append(row)
            frame = pd.DataFrame(rows, columns=self.id_columns + list(fmt.SUMMARY_KEYS))
            for k in ("steps", "verdict_layer", "verdict_step", "verdict_t", "format_version"):
                if frame[k].notna().all():
                    frame[k] = frame[k].astype(np.int64)
            self._cache["summary"] = frame
        return self._cache["summary"]

    def run(self, which=None, **match):
        """One Run: by position, by its ``run`` path, or by id columns
        (``variant="relu-he", seed=2``); with one run, that one."""
        if which is None and not match:
            if len(self.runs) == 1:
                return self.runs[0]
            raise ValueError(f"{self.path}: {len(self.runs)} runs; say which: "
                             f"{', '.join(r.rel for r in self.runs)}")
        if isinstance(which, int):
            return self.runs[which]
        found = []
        for r in self.runs:
            ids = dict(zip(self.id_columns, self._ids(r)))
            if which is not None and r.rel != which:
                continue
            if all(ids.get(k) == v for k, v in match.items()):
                found.append(r)
        if len(found) != 1:
            what = which if which is not None else match
            raise ValueError(f"{self.path}: {len(found)} runs match {what}")
        return found[0]

    def dump(self, step, which=None, **match):
        """The .npy dumps of `step` of one run: {"LAYER.TENSOR.KIND": array}
        (KIND value or grad).  Which run as for run()."""
        return self.run(which, **match).dump(step)

    def __len__(self):
        return len(self.runs)

    def __repr__(self):
        return f"<gradscope.Runs {self.path!r}: {len(self.runs)} run(s), keys {self.keys}>"


def load(path):
    """Reads a run directory, an experiment directory with variants or a
    sweep directory (docs/FORMAT.md) into a Runs object."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FormatError(f"{path}: " + ("not a directory" if os.path.exists(path)
                                         else "no such directory"))
    if os.path.exists(os.path.join(path, fmt.FILE_INDEX)):
        frame, keys = _index(path)
        runs = []
        for i, row in frame.iterrows():
            d = os.path.join(path, row["path"])
            if not os.path.isdir(d) and row["status"] != "pending":
                raise FormatError(f"{os.path.join(path, fmt.FILE_INDEX)}: row {i + 1}: "
                                  f"{d} is not a directory")
            values = {k: row[k] for k in keys}
            # the status is the run's own files', which index.csv may predate
            runs.append(Run(path, row["path"], row["variant"], int(row["seed"]), values))
        return Runs(path, runs, keys)
    if _is_run(path):
        variant, seed, values, keys = "", None, {}, []
        # a run of an experiment's variants, loaded alone, keeps its name
        parent = os.path.dirname(os.path.abspath(path))
        if os.path.exists(os.path.join(parent, fmt.FILE_INDEX)):
            try:
                frame, keys = _index(parent)
                base = os.path.basename(os.path.abspath(path))
                hit = frame[frame["path"] == base]
                if len(hit) == 1:
                    row = hit.iloc[0]
                    variant, seed = row["variant"], int(row["seed"])
                    values = {k: row[k] for k in keys}
                else:
                    keys = []
            except FormatError:
                keys = []
        return Runs(path, [Run(path, ".", variant, seed, values)], keys)
    raise FormatError(f"{path}: not a run directory (no {fmt.FILE_CONFIG}, {fmt.FILE_SUMMARY} "
                      f"or {fmt.TABLES['metrics'][0]}), nor an experiment or sweep (no "
                      f"{fmt.FILE_INDEX})")
