"""A seeded synthetic credit-risk (loan default) scoring dataset, with controlled drift.

One row is one loan application scored by a fixed logistic "model". The features have
realistic marginals and correlations (income grows with age and employment length, the
loan amount with income, the interest rate falls with the credit score, ...). The
model output ``default_score`` in [0, 1] is a fixed function of the features, so it
shifts when they drift.

Drift is applied to the named columns *after* the joint draw, so every column a
:class:`DriftScenario` does not name keeps exactly its training distribution (the
property the demo and the tests rely on); the score is then recomputed from the
drifted features. :data:`DEFAULT_DRIFT` is a recession: incomes down 25 %, credit
scores down 40 points, the channel mix moving to brokers, and a new loan purpose
``crypto`` (8 %) the model has never seen. The recession also changes what the label
depends on (concept drift): defaults are driven partly by job losses the model cannot
see (:attr:`DriftScenario.hidden_risk`), so on labelled rows the model's ROC AUC falls
from about 0.84 to about 0.76 — the model got worse, not only its inputs.

Write the bundled sample files with ``python -m drift_monitor.demo.dataset --write DIR``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]

#: The model output column.
SCORE = "default_score"
#: The optional ground-truth column (1 = defaulted), drawn from the score.
LABEL = "label"

HOME_OWNERSHIP = ("RENT", "MORTGAGE", "OWN", "OTHER")
LOAN_PURPOSES: Mapping[str, float] = {
    "debt_consolidation": 0.45,
    "credit_card": 0.20,
    "home_improvement": 0.09,
    "other": 0.06,
    "major_purchase": 0.06,
    "small_business": 0.05,
    "car": 0.05,
    "medical": 0.04,
}
STATES: Mapping[str, float] = {
    "CA": 0.17,
    "TX": 0.13,
    "FL": 0.10,
    "NY": 0.10,
    "IL": 0.06,
    "PA": 0.06,
    "OH": 0.06,
    "GA": 0.06,
    "NC": 0.06,
    "NJ": 0.06,
    "MI": 0.05,
    "WA": 0.05,
}
CHANNELS: Mapping[str, float] = {"web": 0.45, "app": 0.20, "branch": 0.20, "broker": 0.15}
LOAN_TERMS = (12, 24, 36, 48, 60)

# The scoring model's coefficients on the logit scale. A category the model never saw
# in training (e.g. a new loan purpose) gets 0, as a one-hot encoder would give it.
_PURPOSE_COEF = {
    "debt_consolidation": 0.10,
    "credit_card": 0.0,
    "home_improvement": -0.10,
    "other": 0.15,
    "major_purchase": 0.0,
    "small_business": 0.50,
    "car": -0.20,
    "medical": 0.20,
}
_HOME_COEF = {"RENT": 0.15, "MORTGAGE": -0.10, "OWN": 0.0, "OTHER": 0.20}
_CHANNEL_COEF = {"web": 0.0, "app": 0.05, "branch": -0.15, "broker": 0.35}


@dataclass(frozen=True, slots=True)
class DriftScenario:
    """What changes in production, feature by feature (defaults change nothing).

    ``income_factor`` multiplies ``annual_income``; ``credit_score_shift`` adds points to
    ``credit_score`` (clipped to 300-850); ``channel_weights`` replaces the channel mix
    (channel -> share, normalised); ``new_purpose`` adds a ``loan_purpose`` category
    unseen in training with share ``new_purpose_share`` (the other purposes shrink
    proportionally). ``default_score`` is always recomputed from the drifted features.
    ``hidden_risk`` (logit scale, >= 0) is the spread of a risk factor the model cannot
    see: the label is drawn from ``sigmoid(logit(score) + hidden_risk * z)`` with z a
    standard normal per row (0: the label follows the score, the model stays calibrated).
    It changes no feature (:attr:`features` ignores it), only the labels.
    """

    name: str = "custom"
    income_factor: float = 1.0
    credit_score_shift: float = 0.0
    channel_weights: Mapping[str, float] | None = None
    new_purpose: str | None = None
    new_purpose_share: float = 0.0
    hidden_risk: float = 0.0
    description: str = field(default="", compare=False)

    @property
    def features(self) -> tuple[str, ...]:
        """The feature columns whose distribution this scenario changes."""
        out: list[str] = []
        if self.income_factor != 1.0:
            out.append("annual_income")
        if self.credit_score_shift != 0.0:
            out.append("credit_score")
        if self.channel_weights is not None and _normalised(self.channel_weights) != _normalised(
            CHANNELS
        ):
            out.append("channel")
        if self.new_purpose is not None and self.new_purpose_share > 0:
            out.append("loan_purpose")
        return tuple(out)


#: A recession: the scenario of the bundled ``credit_production_drifted.csv``.
DEFAULT_DRIFT = DriftScenario(
    name="recession",
    income_factor=0.75,
    credit_score_shift=-40.0,
    channel_weights={"web": 0.30, "app": 0.20, "branch": 0.12, "broker": 0.38},
    new_purpose="crypto",
    new_purpose_share=0.08,
    hidden_risk=1.5,
    description="incomes -25 %, credit scores -40 points, channel mix to brokers, "
    "new loan purpose 'crypto' at 8 %; defaults driven partly by job losses the model "
    "cannot see",
)


def drifted_columns(scenario: DriftScenario) -> tuple[str, ...]:
    """The columns whose distribution ``scenario`` changes: its features, then the
    score (which depends on every feature). Empty for a scenario that changes nothing."""
    feats = scenario.features
    return (*feats, SCORE) if feats else ()


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(weights.values()))
    if total <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError(f"weights must be >= 0 with a positive sum, got {dict(weights)}")
    return {k: round(float(w) / total, 12) for k, w in sorted(weights.items())}


def _choice(rng: np.random.Generator, weights: Mapping[str, float], n: int) -> ObjectArray:
    w = _normalised(weights)
    keys = list(weights)
    p = np.array([w[k] for k in keys])
    return np.asarray(keys, dtype=object)[rng.choice(len(keys), size=n, p=p)]


def _features(n: int, rng: np.random.Generator) -> dict[str, Any]:
    """The joint draw of every feature, in training distribution."""
    # age: normal(41, 12) truncated to [21, 75] by rejection (exact, not clipped)
    age = rng.normal(41.0, 12.0, size=2 * n + 100)
    age = age[(age >= 21.0) & (age < 76.0)][:n]
    while age.shape[0] < n:  # pragma: no cover - 2n draws keep ~93 % of values
        more = rng.normal(41.0, 12.0, size=n)
        age = np.concatenate([age, more[(more >= 21.0) & (more < 76.0)]])[:n]
    age_i = np.floor(age).astype(np.int64)
    employment = np.minimum(np.floor(rng.gamma(1.6, 4.0, size=n)), age_i - 18).astype(np.int64)

    z_income = rng.standard_normal(n)
    log_income = 10.75 + 0.012 * (age - 41.0) + 0.025 * np.minimum(employment, 15) + 0.5 * z_income
    income = np.clip(np.round(np.exp(log_income), -2), 8_000, 2_000_000)

    # FICO-like: left-skewed (850 minus a gamma), better with income and age
    gap = rng.gamma(4.0, 38.0, size=n) * np.exp(-0.15 * z_income - 0.008 * (age - 41.0))
    credit = np.clip(np.round(850.0 - gap), 300, 850).astype(np.int64)

    z_loan = rng.standard_normal(n)
    log_loan = 9.35 + 0.6 * (np.log(income) - 10.75) + 0.45 * z_loan
    loan = np.clip(np.round(np.exp(log_loan) / 25.0) * 25.0, 1_000, 40_000)

    # longer terms for larger loans: an ordered latent variable cut at fixed points
    latent = 0.8 * (np.log(loan) - 9.35) / 0.55 + 0.6 * rng.standard_normal(n)
    term = np.asarray(LOAN_TERMS)[np.searchsorted([-1.45, -0.75, 0.55, 0.95], latent)]

    raw = 7.5 + 0.05 * (760.0 - credit) + 1.5 * (term == 60) + 2.2 * rng.standard_normal(n)
    # a soft floor at the lender's minimum rate (no pile-up of loans at exactly 5.31 %)
    rate = np.clip(np.round(5.31 + 1.5 * np.log1p(np.exp((raw - 5.31) / 1.5)), 2), 5.31, 30.99)

    dti = 60.0 * rng.beta(2.2, 4.5, size=n) + 0.03 * (700.0 - credit)
    dti = np.clip(np.round(dti, 2), 0.0, 60.0)

    accounts = rng.poisson(8.0 * np.exp(0.01 * (age - 41.0)), size=n).astype(np.int64)

    # ~60 % never delinquent (missing), more often delinquent with a low score
    p_delinquent = 1.0 / (1.0 + np.exp(0.45 + 0.012 * (credit - 700.0)))
    delinquent = rng.random(n) < p_delinquent
    # months since: an exponential (mean ~30) truncated to 1..120 by inverting its CDF
    u = rng.random(n) * (1.0 - np.exp(-119.0 / 32.0))
    months = 1.0 + np.floor(-32.0 * np.log1p(-u))
    months_since = np.where(delinquent, months, np.nan)

    # home ownership: young people rent, older and richer ones own or have a mortgage
    logits = np.stack(
        [
            np.zeros(n),
            -0.3 + 0.06 * (age - 35.0) + 0.8 * z_income,
            -1.9 + 0.07 * (age - 35.0) + 0.3 * z_income,
            np.full(n, -2.6),
        ],
        axis=1,
    )
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    cum = probs.cumsum(axis=1)
    home_idx = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, 3)
    home = np.asarray(HOME_OWNERSHIP, dtype=object)[home_idx]

    return {
        "age": age_i,
        "annual_income": income,
        "employment_length_years": employment,
        "home_ownership": home,
        "state": _choice(rng, STATES, n),
        "channel": _choice(rng, CHANNELS, n),
        "loan_purpose": _choice(rng, LOAN_PURPOSES, n),
        "loan_amount": loan,
        "loan_term_months": term.astype(np.int64),
        "interest_rate": rate,
        "credit_score": credit,
        "debt_to_income": dti,
        "num_open_accounts": accounts,
        "months_since_last_delinquency": months_since,
    }


def _apply_drift(cols: dict[str, Any], scenario: DriftScenario, rng: np.random.Generator) -> None:
    n = len(cols["age"])
    if scenario.income_factor != 1.0:
        cols["annual_income"] = np.round(cols["annual_income"] * scenario.income_factor, -2)
    if scenario.credit_score_shift != 0.0:
        shifted = np.round(cols["credit_score"] + scenario.credit_score_shift)
        cols["credit_score"] = np.clip(shifted, 300, 850).astype(np.int64)
    if "channel" in scenario.features:
        assert scenario.channel_weights is not None
        cols["channel"] = _choice(rng, scenario.channel_weights, n)
    if "loan_purpose" in scenario.features:
        assert scenario.new_purpose is not None
        if not 0.0 < scenario.new_purpose_share < 1.0:
            raise ValueError(f"new_purpose_share must be in (0, 1): {scenario.new_purpose_share}")
        new = rng.random(n) < scenario.new_purpose_share
        cols["loan_purpose"] = np.where(new, scenario.new_purpose, cols["loan_purpose"])


def default_score(df: pd.DataFrame) -> FloatArray:
    """The fixed scoring model: probability of default from the features (about 12 %
    on average in training). Categories it never saw contribute 0 to the logit."""
    months = df["months_since_last_delinquency"].to_numpy(dtype=np.float64)
    recent = np.where(np.isnan(months), 0.0, np.exp(-np.nan_to_num(months) / 24.0))
    logit = (
        -2.35
        - 0.012 * (df["credit_score"].to_numpy(dtype=np.float64) - 700.0)
        - 0.6 * (np.log(df["annual_income"].to_numpy(dtype=np.float64)) - 10.75)
        + 0.03 * (df["debt_to_income"].to_numpy(dtype=np.float64) - 20.0)
        + 0.25 * (np.log(df["loan_amount"].to_numpy(dtype=np.float64)) - 9.35)
        + 0.3 * (df["loan_term_months"].to_numpy() == 60)
        + 0.04 * (df["interest_rate"].to_numpy(dtype=np.float64) - 13.0)
        + 0.5 * recent
        + 0.03 * (df["num_open_accounts"].to_numpy(dtype=np.float64) - 8.0)
        - 0.03 * np.minimum(df["employment_length_years"].to_numpy(dtype=np.float64), 10.0)
        - 0.01 * (df["age"].to_numpy(dtype=np.float64) - 41.0)
        + df["home_ownership"].map(_HOME_COEF).fillna(0.0).to_numpy(dtype=np.float64)
        + df["loan_purpose"].map(_PURPOSE_COEF).fillna(0.0).to_numpy(dtype=np.float64)
        + df["channel"].map(_CHANNEL_COEF).fillna(0.0).to_numpy(dtype=np.float64)
    )
    score: FloatArray = np.round(1.0 / (1.0 + np.exp(-logit)), 6)
    return score


def _frame(n: int, seed: int, drift: DriftScenario | None, with_label: bool) -> pd.DataFrame:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    cols = _features(n, rng)
    if drift is not None:
        # A separate stream, so a scenario's draws never change the undrifted columns.
        _apply_drift(cols, drift, np.random.default_rng([seed, 1]))
    df = pd.DataFrame(cols)
    df[SCORE] = default_score(df)
    if with_label:
        df[LABEL] = _labels(df[SCORE].to_numpy(dtype=np.float64), seed, drift)
    return df


def _labels(score: FloatArray, seed: int, drift: DriftScenario | None) -> npt.NDArray[np.int64]:
    """0/1 defaults drawn from the score, plus the scenario's hidden risk (see
    :class:`DriftScenario`); without hidden risk exactly the draws of earlier versions."""
    u = np.random.default_rng([seed, 2]).random(score.shape[0])
    hidden = 0.0 if drift is None else drift.hidden_risk
    if hidden < 0:
        raise ValueError(f"hidden_risk must be >= 0, got {hidden}")
    if hidden == 0.0:
        return (u < score).astype(np.int64)
    p = np.clip(score, 1e-9, 1 - 1e-9)
    z = np.random.default_rng([seed, 3]).standard_normal(score.shape[0])
    true_p = 1.0 / (1.0 + np.exp(-(np.log(p / (1.0 - p)) + hidden * z)))
    return (u < true_p).astype(np.int64)


def training_frame(n: int = 50_000, seed: int = 7, *, with_label: bool = False) -> pd.DataFrame:
    """``n`` training rows: the features, ``default_score`` and, with ``with_label``, a
    0/1 ``label`` drawn from the score. Same ``(n, seed)``, same frame."""
    return _frame(n, seed, None, with_label)


def production_frame(
    n: int, seed: int, drift: DriftScenario | None = None, *, with_label: bool = False
) -> pd.DataFrame:
    """``n`` production rows, drifted by ``drift`` (None: the training distribution).
    Use a seed other than the training seed for an independent sample."""
    return _frame(n, seed, drift, with_label)


def _json_value(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        f = float(v)
        return None if math.isnan(f) else f
    return v


def events(
    frame: pd.DataFrame,
    model: str,
    start_time: dt.datetime,
    rate_per_second: float,
    *,
    seed: int = 0,
) -> Iterator[dict[str, Any]]:
    """One SPEC-shaped event per row: ``model``, ``event_id`` (a UUID4 from a seeded RNG,
    so the same call gives the same ids), ``timestamp`` (RFC 3339 UTC, milliseconds),
    ``features`` (every column but the score and label; NaN -> None), ``prediction``
    (the score) and ``label`` (None: labels arrive later in production).

    Arrivals are a Poisson process of ``rate_per_second`` events/s starting at
    ``start_time`` (naive datetimes are taken as UTC).
    """
    if rate_per_second <= 0:
        raise ValueError(f"rate_per_second must be > 0, got {rate_per_second}")
    if start_time.tzinfo is None:
        start_time = start_time.replace(tzinfo=dt.UTC)
    rng = np.random.default_rng(seed)
    names = [str(c) for c in frame.columns if c not in (SCORE, LABEL)]
    offsets = np.cumsum(rng.exponential(1.0 / rate_per_second, size=len(frame)))
    scores = frame[SCORE].to_numpy(dtype=np.float64)
    columns = [frame[name].tolist() for name in names]
    for i in range(len(frame)):
        ts = start_time + dt.timedelta(seconds=float(offsets[i]))
        yield {
            "model": model,
            "event_id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
            "timestamp": ts.astimezone(dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "features": {
                name: _json_value(col[i]) for name, col in zip(names, columns, strict=True)
            },
            "prediction": _json_value(scores[i]),
            "label": None,
        }


#: file name -> (rows, seed, scenario) of the bundled samples in ``drift_monitor/data``.
SAMPLES: Mapping[str, tuple[int, int, DriftScenario | None]] = {
    "credit_train.csv": (20_000, 7, None),
    "credit_production_ok.csv": (5_000, 101, None),
    "credit_production_drifted.csv": (5_000, 202, DEFAULT_DRIFT),
}


def write_samples(directory: str | Path) -> list[Path]:
    """Write the bundled sample CSV files into ``directory``; returns their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, (rows, seed, scenario) in SAMPLES.items():
        path = out / name
        _frame(rows, seed, scenario, False).to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m drift_monitor.demo.dataset --write DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", metavar="DIR", required=True, help="directory for the CSVs")
    args = parser.parse_args(argv)
    for path in write_samples(args.write):
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
