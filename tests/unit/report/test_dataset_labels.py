"""The demo dataset's labels: calibrated in training, and the recession's hidden risk
(concept drift) that degrades the model without touching any feature."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from drift_monitor.demo.dataset import (
    DEFAULT_DRIFT,
    LABEL,
    SCORE,
    DriftScenario,
    production_frame,
    training_frame,
)


def test_without_hidden_risk_the_label_is_drawn_from_the_score() -> None:
    df = training_frame(2000, seed=3, with_label=True)
    u = np.random.default_rng([3, 2]).random(2000)
    assert (df[LABEL].to_numpy() == (u < df[SCORE].to_numpy())).all()


def test_the_recession_degrades_the_model_but_no_feature_more_than_before() -> None:
    clean = production_frame(20_000, seed=11, with_label=True)
    drifted = production_frame(20_000, seed=12, drift=DEFAULT_DRIFT, with_label=True)
    covariate_only = dataclasses.replace(DEFAULT_DRIFT, hidden_risk=0.0)
    shifted = production_frame(20_000, seed=12, drift=covariate_only, with_label=True)
    auc_clean = roc_auc_score(clean[LABEL], clean[SCORE])
    auc_drifted = roc_auc_score(drifted[LABEL], drifted[SCORE])
    auc_shifted = roc_auc_score(shifted[LABEL], shifted[SCORE])
    assert auc_clean > 0.82
    # Covariate shift alone costs little; the hidden risk costs well over the 0.03 minimum.
    assert auc_clean - auc_shifted < 0.04
    assert auc_clean - auc_drifted > 0.06
    # Hidden risk changes labels only: every other column is identical.
    features = [c for c in drifted.columns if c != LABEL]
    assert drifted[features].equals(shifted[features])
    assert covariate_only.features == DEFAULT_DRIFT.features


def test_a_negative_hidden_risk_is_an_error() -> None:
    with pytest.raises(ValueError, match="hidden_risk must be >= 0"):
        production_frame(10, seed=1, drift=DriftScenario(hidden_risk=-1.0), with_label=True)
