"""Full-ranking evaluation of a 1,000,000-item catalogue stays near batch x items x 4 bytes of memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("_eval_memory_probe.py")
N_ITEMS = 1_000_000
N_USERS = 64
BATCH_SIZE = 16
DIM = 16
# One float32 score row per user in the batch.
SCORE_BYTES = BATCH_SIZE * N_ITEMS * 4
# The evaluator keeps two copies of the score rows while it copies score_fn's output, plus a boolean
# or half-size float buffer (see avrec.evaluator); 3x leaves room for the allocator.
# Scoring all 64 users at once would need 2 x 64 x 1e6 x 4 bytes = 512 MB and exceed it.
ALLOWED_GROWTH = 3 * SCORE_BYTES + 64 * 2**20


@pytest.mark.slow
def test_million_item_evaluation_memory():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, str(PROBE), str(N_ITEMS), str(N_USERS), str(BATCH_SIZE), str(DIM)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    assert figures["n_users_evaluated"] == N_USERS
    growth = figures["peak_bytes"] - figures["baseline_bytes"]
    assert growth <= ALLOWED_GROWTH, f"peak RSS grew by {growth / 2**20:.0f} MiB during evaluation"
