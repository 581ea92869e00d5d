"""The GPU paths: every solver and training on CUDA agree with the CPU. Skipped without a GPU.

Run on a lent GPU by ``tools/device/session.sh``; CI has none. Convolutions on CUDA may use
TF32, so learned solvers are compared by the PSNR between the two reconstructions, not bitwise.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sci_viewer.cli import main
from sci_viewer.engine import Job, execute
from sci_viewer.metrics import psnr

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")

SHORT = {
    "gap-tv": {"iterations": 20},
    "pnp-gap": {},
    "de-gap": {"tol": 0.0, "max_iter": 15},
    "de-rnn": {"tol": 0.0, "max_iter": 15},
}


def _both(capture, algo: str) -> tuple[np.ndarray, np.ndarray, object]:
    runs = [execute(Job(capture, algo, SHORT[algo], device=d, measurements=[0])) for d in ("cpu", "cuda")]
    return runs[0].reconstruction, runs[1].reconstruction, runs[1]


@pytest.mark.parametrize("algo", sorted(SHORT))
def test_each_algorithm_on_cuda_matches_the_cpu(small_demo, algo):
    on_cpu, on_gpu, fin = _both(small_demo, algo)
    assert fin.device.startswith("cuda")
    assert on_gpu.dtype == on_cpu.dtype and on_gpu.shape == on_cpu.shape
    agreement = psnr(on_gpu, on_cpu)
    assert agreement > (60.0 if algo == "gap-tv" else 40.0), f"{algo}: CPU and CUDA differ ({agreement:.1f} dB)"
    truth = small_demo.ground_truth([0])
    assert abs(psnr(on_gpu, truth) - psnr(on_cpu, truth)) < 0.05


def test_training_on_cuda_resumes_and_exports_a_model_the_cpu_loads(tmp_path, shared_data):
    import yaml

    from sci_viewer.models import load_model
    from test_training import TINY

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(dict(TINY, device="cuda")))
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--quiet", "--max-steps", "2"]) == 0
    assert main(["train", "--config", str(cfg), "--out", str(out), "--quiet", "--resume"]) == 0
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 3
    net = load_model(str(out / "deq_final.pt"))
    assert all(p.device.type == "cpu" for p in net.parameters())
