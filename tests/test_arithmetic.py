"""The arithmetic paths a learner's machine may take, and why the lessons print what they print.

MKL picks its matrix-product kernels by CPU (``MKL_CBWR`` forces one) and ATen its vector width
(``ATEN_CPU_CAPABILITY``); each path rounds differently in the last bits. CI runs the second half
of its notebook suite under another path than the first half's (``.ci/run``), and
``make test-arithmetic`` runs it under each one; these tests check that the settings really
change the arithmetic here (so those runs are not a no-op), that numbers the lessons build from
whole numbers and halves come out bit for bit the same on every path, and that the CI script
keeps its two halves on different paths.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OTHER_PATH = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default", "LLMLAB_THREADS": "1"}

PROBE = """
import hashlib, json
import numpy as np
import torch

def digest(t):
    return hashlib.sha1(t.contiguous().numpy().tobytes()).hexdigest()[:12]

rng = np.random.default_rng(0)
a = torch.from_numpy(rng.standard_normal((64, 256)).astype(np.float32))
b = torch.from_numpy(rng.standard_normal((256, 64)).astype(np.float32))
x = torch.from_numpy(rng.standard_normal(4096).astype(np.float32))
whole = torch.from_numpy(rng.integers(-4, 5, (64, 256)).astype(np.float32) / 2)
halves = torch.from_numpy(rng.integers(-4, 5, (256, 64)).astype(np.float32) / 2)
torch.manual_seed(0)
print(json.dumps({
    "matmul": digest(a @ b),
    "softmax": digest(x.softmax(0)),
    "randn": digest(torch.randn(4096)),
    "exact matmul": digest(whole @ halves),
    "exact sum": digest(whole.sum(0)),
}))
"""


def run_python(code: str, **settings: str) -> str:
    """``code``'s output in a fresh Python on this machine's own path, changed by ``settings``
    (CI's second half sets these variables for the whole run: they are taken out first)."""
    env = {k: v for k, v in os.environ.items() if k not in OTHER_PATH} | settings
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def probe(**settings: str) -> dict[str, str]:
    return json.loads(run_python(PROBE, **settings))


CAPABILITY = "import torch; print(torch.backends.cpu.get_cpu_capability())"


@pytest.fixture(scope="module")
def two_paths() -> tuple[dict[str, str], dict[str, str]]:
    return probe(), probe(**OTHER_PATH)


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="MKL_CBWR and ATen's AVX kernels exist on x86 CPUs only",
)
def test_the_other_path_rounds_differently_here(two_paths):
    native, other = two_paths
    different = {k for k in ("matmul", "softmax", "randn") if native[k] != other[k]}
    assert different, "MKL_CBWR / ATEN_CPU_CAPABILITY changed nothing: CI's second half is moot"


def test_whole_numbers_and_halves_give_the_same_bits_on_every_path(two_paths):
    native, other = two_paths
    assert native["exact matmul"] == other["exact matmul"]
    assert native["exact sum"] == other["exact sum"]


def test_ci_runs_its_halves_on_different_arithmetic_paths():
    script = (ROOT / ".ci/run").read_text()
    first, second = script.split("# 1. ", 1)[1].split("# 2. ", 1)
    assert "MKL_CBWR=COMPATIBLE" in second and "LLMLAB_THREADS=1" in second
    assert "ATEN_CPU_CAPABILITY=$other" in second and "AVX512*) other=avx2" in second
    assert not any(name in first for name in OTHER_PATH)


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="ATen's AVX kernels exist on x86 CPUs only",
)
def test_one_vector_width_down_rounds_differently_too():
    """CI's second half on an AVX-512 machine: AVX2 kernels, MKL's compatible ones."""
    native = probe()
    if "avx512" not in run_python(CAPABILITY).lower():
        pytest.skip("this CPU has no AVX-512: CI's second half takes plain C++ kernels here")
    other = probe(MKL_CBWR="COMPATIBLE", ATEN_CPU_CAPABILITY="avx2")
    assert native["matmul"] != other["matmul"] or native["softmax"] != other["softmax"]
