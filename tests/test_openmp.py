"""Importing sci_viewer first makes OpenMP's idle threads sleep (OMP_WAIT_POLICY=PASSIVE), unless told otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = "import os, sys; {first}import sci_viewer; print(os.environ.get('OMP_WAIT_POLICY'))"


@pytest.mark.parametrize("start, first, expected", [
    (None, "", "PASSIVE"),
    ("ACTIVE", "", "ACTIVE"),      # the user's choice is kept
    (None, "import torch; ", "None"),  # too late once torch (and libgomp) is loaded: left alone
])
def test_wait_policy(start, first, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if start:
        env["OMP_WAIT_POLICY"] = start
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(first=first)], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == expected
