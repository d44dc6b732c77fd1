"""Shared set-up of the in-memory daemon tests: a baseline, a config, a stream."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.config import AppConfig, validate_config
from drift_monitor.daemon import Monitor

T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC).timestamp()
N_TRAIN = 20_000


def make_setup(tmp_path: Path) -> tuple[AppConfig, Path]:
    """(config, tmp_path) with a baseline for model ``m`` written under tmp_path."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=N_TRAIN),
            "y": rng.exponential(size=N_TRAIN),
            "c": rng.choice(["a", "b", "c"], N_TRAIN, p=[0.5, 0.3, 0.2]),
            "score": rng.uniform(size=N_TRAIN),
        }
    )
    save_baseline(
        build_baseline(df, "m", prediction=["score"], version="v1"),
        tmp_path / "baselines" / "m.dmb",
    )
    cfg = validate_config(
        {
            "kafka": {"bootstrap_servers": ["memory:0"], "topics": ["t"]},
            "baselines": {"dir": str(tmp_path / "baselines")},
            "state": {"dir": str(tmp_path / "state"), "audit_windows": True},
            "models": [
                {
                    "name": "m",
                    "window": {
                        "size_seconds": 60,
                        "allowed_lateness_seconds": 0,
                        "idle_timeout_seconds": 5,
                    },
                    "episodes": {"enter_after": 1},
                }
            ],
        }
    )
    return cfg, tmp_path


def stream(n: int, drift_from: int, seed: int = 9) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        drifted = i >= drift_from
        out.append(
            orjson.dumps(
                {
                    "model": "m",
                    "event_id": f"e{i}",
                    "timestamp": T0 + i * 0.05,
                    "features": {
                        "x": float(rng.normal(1.0 if drifted else 0.0, 1)),
                        "y": float(rng.exponential()),
                        "c": str(rng.choice(["a", "b", "c"], p=[0.5, 0.3, 0.2])),
                    },
                    "prediction": float(rng.uniform()),
                }
            )
        )
    return out


def run(monitor: Monitor, rounds: int = 50) -> None:
    for _ in range(rounds):
        monitor.run_once()
