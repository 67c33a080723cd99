#!/usr/bin/python3
"""The machine's practical float32 limit: numpy's sgemm (OpenBLAS where the
libblas alternative points to it) on n x n matrices, best of five.
Usage: peak_sgemm.py [n]; threads from OPENBLAS_NUM_THREADS.  Prints GFLOP/s."""
import sys
import time

import numpy as np

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
a = np.random.rand(n, n).astype(np.float32)
b = np.random.rand(n, n).astype(np.float32)
a @ b
best = float("inf")
for _ in range(5):
    t = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t)
print(f"{2 * n ** 3 / best / 1e9:.1f}")
