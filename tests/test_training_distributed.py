"""Data-parallel training with 2 CPU ranks (gloo): averaged gradients, identical weights, rank 0 writes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
import yaml

from sci_viewer.training.data import default_root

TINY = {
    "name": "tiny-ddp", "seed": 3, "device": "cpu", "threads": 1,
    "model": {"arch": "unet", "kwargs": {"ch": 4}},
    "data": {"train_scenes": ["libby", "dog"], "val_scenes": ["car-shadow"], "frames": [8], "scales": [1]},
    "pretrain": {"steps": 2, "batch": 1, "crop": 32},
    "deq": {"steps": 1, "batch": 1, "crop": 32, "max_iter": 4},
    "val": {"every_steps": 0, "size": 32, "max_iter": 3},
}


@pytest.fixture()
def davis(shared_data):
    if not default_root().is_dir():
        pytest.skip("DAVIS training frames not present")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def _rank(rank: int, world: int, port: int, out: str, cfg: dict, interrupt_rank: int = -1) -> None:
    """One rank: train TINY, recording each step's local and averaged gradients and the final weights
    (rank ``interrupt_rank`` gets a Ctrl-C after its first step)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    from pathlib import Path

    from sci_viewer.training import distributed
    from sci_viewer.training.config import config_from_dict
    from sci_viewer.training.loop import Trainer

    ranks = distributed.from_env(torch.device("cpu"))
    local, averaged = [], []

    class Recording(distributed.Ranks):
        def average_gradients(self, params):
            local.append(_flat(p.grad for p in params).clone())
            super().average_gradients(params)
            averaged.append(_flat(p.grad for p in params).clone())

    trainer = Trainer(config_from_dict(cfg), Path(out), quiet=True,
                      ranks=Recording(ranks.rank, ranks.world_size, ranks.local_rank))
    start = _flat(trainer.net.parameters()).clone()
    if rank == interrupt_rank:
        import signal

        original = trainer._pretrain_step

        def step_then_interrupt():
            stats = original()
            signal.raise_signal(signal.SIGINT)
            return stats

        trainer._pretrain_step = step_then_interrupt
    trainer.run()
    torch.save({"step": trainer.step, "interrupted": trainer.interrupted, "local": local, "averaged": averaged, "start": start,
                "final": _flat(trainer.net.parameters())}, Path(out).parent / f"rank{rank}.pt")
    distributed.shutdown(ranks)


def test_two_ranks_average_gradients_and_keep_one_model(tmp_path, davis):
    out = tmp_path / "run"
    mp.spawn(_rank, args=(2, _free_port(), str(out), TINY), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert len(r0["local"]) == len(r1["local"]) == 3  # every step all-reduced, on both ranks
    assert torch.equal(r0["start"], r1["start"])
    for a0, a1, l0, l1 in zip(r0["averaged"], r1["averaged"], r0["local"], r1["local"]):
        assert not torch.allclose(l0, l1)  # each rank drew its own samples
        assert torch.allclose(a0, (l0 + l1) / 2, atol=1e-7) and torch.equal(a0, a1)
    assert torch.equal(r0["final"], r1["final"]) and not torch.equal(r0["final"], r0["start"])
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert records[0]["world_size"] == 2 and records[0]["event"] == "start"
    steps = [r["step"] for r in records if "loss" in r]
    assert steps == sorted(set(steps)) and steps[-1] == 3  # one writer: no record twice
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 3
    assert (out / "deq_final.pt").exists() and (out / "best_deq.pt").exists()
    assert len([r for r in records if "val_psnr" in r]) == 1  # validated once, on rank 0


def test_torchrun_trains_and_resumes_with_another_world_size(tmp_path, davis):
    if shutil.which("torchrun") is None and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "torchrun")):
        pytest.skip("torchrun not installed")
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "run"
    cmd = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "sci_viewer", "train", "--config", str(cfg),
           "--out", str(out), "--quiet", "--max-steps", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 2
    # the 2-rank run folder continues in one process
    from sci_viewer.cli import main

    assert main(["train", "--config", str(cfg), "--out", str(out), "--quiet", "--resume"]) == 0
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    starts = [r for r in records if r.get("event") == "start"]
    assert [(s["world_size"], s["step"]) for s in starts] == [(2, 0), (1, 2)]
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 3


def test_a_signal_on_one_rank_stops_every_rank_at_the_same_step(tmp_path, davis):
    out = tmp_path / "run"
    mp.spawn(_rank, args=(2, _free_port(), str(out), TINY, 1), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert (r0["step"], r1["step"]) == (1, 1) and r0["interrupted"] and r1["interrupted"]
    assert torch.equal(r0["final"], r1["final"])
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 1
