"""The example task: a small numpy regression network trained on data it generates, tracked from YAML.

    python train.py                                 # one tracked run
    python train.py -m lr=0.1,0.01 seed=0,1,2       # six tracked runs in one group

It never calls tracker.init(): the tracker config group and the tracked launcher do that. It logs one
row per epoch and keeps its training state in the run's folder, so a preempted and requeued job
continues where it stopped (deterministic per seed: an epoch redone after a requeue is not logged twice).
"""

from __future__ import annotations

import time

import hydra
import numpy as np
from omegaconf import DictConfig

import tracker
from launcher import checkpoint


def make_data(cfg: DictConfig) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(cfg.seed)
    x = rng.normal(size=(cfg.data.samples, cfg.data.features))
    true_w = rng.normal(size=(cfg.data.features, 1))
    y = np.tanh(x @ true_w) + cfg.data.noise * rng.normal(size=(cfg.data.samples, 1))
    split = int(cfg.data.samples * (1 - cfg.data.val_fraction))
    return x[:split], y[:split], x[split:], y[split:]


def init_params(cfg: DictConfig) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(cfg.seed + 1)
    scale = 1 / np.sqrt(cfg.data.features)
    return {
        "w1": rng.normal(scale=scale, size=(cfg.data.features, cfg.model.hidden)),
        "b1": np.zeros(cfg.model.hidden),
        "w2": rng.normal(scale=1 / np.sqrt(cfg.model.hidden), size=(cfg.model.hidden, 1)),
        "b2": np.zeros(1),
    }


def forward(params: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hidden = np.tanh(x @ params["w1"] + params["b1"])
    return hidden @ params["w2"] + params["b2"], hidden


def train_epoch(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, cfg: DictConfig, epoch: int) -> float:
    order = np.random.default_rng([cfg.seed, epoch]).permutation(len(x))
    losses = []
    for start in range(0, len(x), cfg.batch_size):
        batch = order[start : start + cfg.batch_size]
        xb, yb = x[batch], y[batch]
        prediction, hidden = forward(params, xb)
        error = prediction - yb
        losses.append(float(np.mean(error**2)))
        grad_out = 2 * error / len(xb)
        grad_hidden = (grad_out @ params["w2"].T) * (1 - hidden**2)
        params["w2"] -= cfg.lr * hidden.T @ grad_out
        params["b2"] -= cfg.lr * grad_out.sum(axis=0)
        params["w1"] -= cfg.lr * xb.T @ grad_hidden
        params["b1"] -= cfg.lr * grad_hidden.sum(axis=0)
    return float(np.mean(losses))


def should_fail(cfg: DictConfig) -> bool:
    return cfg.fail_if is not None and all(cfg.get(key) == value for key, value in cfg.fail_if.items())


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    x_train, y_train, x_val, y_val = make_data(cfg)
    state = checkpoint.load(default={"epoch": 0, "params": init_params(cfg)})
    params = state["params"]
    val_loss = float("nan")
    for epoch in range(state["epoch"], cfg.epochs):
        if should_fail(cfg) and epoch == cfg.fail_at_epoch:
            raise RuntimeError(f"failure drill at epoch {epoch} (fail_if={dict(cfg.fail_if)})")
        train_loss = train_epoch(params, x_train, y_train, cfg, epoch)
        val_loss = float(np.mean((forward(params, x_val)[0] - y_val) ** 2))
        if epoch >= tracker.run.step:  # an epoch redone after a requeue was logged already
            tracker.log({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
        checkpoint.save({"epoch": epoch + 1, "params": params})
        time.sleep(cfg.epoch_sleep)
    return val_loss


if __name__ == "__main__":
    main()
