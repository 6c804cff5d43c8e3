"""A tiny PyTorch trainer on CPU that keeps the harness's contract (components/training/
contract.py): it reads SEED, HYPERPARAMETERS, RESUME_STEP, CHECKPOINT_DIR and OUTPUT_DIR,
writes a checkpoint every `checkpoint_every` steps to a temporary directory and renames it to
CHECKPOINT_DIR/step-<n>/ when it is complete, resumes from CHECKPOINT_DIR/step-<RESUME_STEP>/,
writes the final weights to OUTPUT_DIR/model.pt, and on SIGTERM finishes its step, writes a
checkpoint and exits 143 (128 + SIGTERM, as a process the signal ended).

Deterministic: the weights start from SEED, each step's batch comes from a generator seeded
with (SEED, step) alone, and a checkpoint holds the model's and the optimizer's (momentum)
state, so a run resumed at any step takes exactly the steps an uninterrupted one does. One
CPU thread, so no reduction is split differently from one run to the next.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import torch

STOP = {"asked": False}


def on_sigterm(signum, frame) -> None:
    STOP["asked"] = True


def model_for(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def batch(seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    x = torch.randn(32, 8, generator=generator)
    y = x.sum(dim=1, keepdim=True).sin() + 0.1 * torch.randn(32, 1, generator=generator)
    return x, y


def save_checkpoint(directory: Path, step: int, model, optimizer) -> None:
    temporary = directory / f".writing-step-{step}"
    temporary.mkdir(parents=True)
    torch.save(model.state_dict(), temporary / "model.pt")
    torch.save(optimizer.state_dict(), temporary / "optimizer.pt")
    (temporary / "trainer.json").write_text(json.dumps({"step": step}) + "\n")
    temporary.rename(directory / f"step-{step}")
    print(f"training_loop: checkpoint step-{step}", flush=True)


def main() -> int:
    signal.signal(signal.SIGTERM, on_sigterm)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    seed = int(os.environ["SEED"])
    params = json.loads(os.environ["HYPERPARAMETERS"])
    checkpoint_dir, output_dir = Path(os.environ["CHECKPOINT_DIR"]), Path(os.environ["OUTPUT_DIR"])
    resume = int(os.environ["RESUME_STEP"])
    model = model_for(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=params["lr"], momentum=0.9)
    if resume:
        source = checkpoint_dir / f"step-{resume}"
        model.load_state_dict(torch.load(source / "model.pt"))
        optimizer.load_state_dict(torch.load(source / "optimizer.pt"))
    print(f"training_loop: RESUME_STEP={resume} SEED={seed}", flush=True)
    for step in range(resume, params["steps"]):
        x, y = batch(seed, step)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        time.sleep(params["step_seconds"])  # a real step's time, so a signal lands midway
        done = step + 1
        if STOP["asked"] or done % params["checkpoint_every"] == 0:
            save_checkpoint(checkpoint_dir, done, model, optimizer)
        if STOP["asked"]:
            print(f"training_loop: SIGTERM, stopped after step {done}", flush=True)
            return 128 + signal.SIGTERM
    output_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), output_dir / "model.pt")
    print(f"training_loop: trained {params['steps']} steps", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
