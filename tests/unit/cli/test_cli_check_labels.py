"""``drift-monitor check --labels COL``: model quality of a labelled file, in process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from drift_monitor.cli import main


def generate(n: int, seed: int, *, shuffled: bool = False, prior: float = 0.3) -> pd.DataFrame:
    """A binary model: ``score`` is informative about ``label``; ``shuffled`` breaks the
    link (same score and label marginals: no input drift, a much worse model)."""
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < prior).astype(int)
    score = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1)
    if shuffled:
        y = rng.permutation(y)
    return pd.DataFrame({"amount": rng.lognormal(3, 1, n), "score": score, "truth": y})


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("labels")
    generate(8_000, 1).to_csv(d / "validation.csv", index=False)
    common = ["baseline", "build", "--model", "fraud", "--input", str(d / "validation.csv")]
    assert main([*common, "--out", str(d / "fraud.dmb"), "--prediction", "score",
                 "--label", "truth", "--version", "v1"]) == 0  # fmt: skip
    assert main([*common, "--out", str(d / "nolabel.dmb"), "--prediction", "score",
                 "--exclude", "truth"]) == 0  # fmt: skip
    generate(3_000, 2).to_csv(d / "ok.csv", index=False)
    generate(3_000, 3, shuffled=True).to_csv(d / "degraded.csv", index=False)
    sparse = generate(3_000, 4)
    sparse.loc[sparse.index[50:], "truth"] = np.nan  # only 50 rows labelled so far
    sparse.to_csv(d / "sparse.csv", index=False)
    generate(3_000, 5, prior=0.6).to_csv(d / "prior.csv", index=False)
    return d


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(
    capsys: pytest.CaptureFixture[str], work: Path, name: str, *extra: str
) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(
        capsys, "--baseline", str(work / "fraud.dmb"), "--input", str(work / name),
        "--labels", "truth", "--format", "json", *extra,
    )  # fmt: skip
    return code, json.loads(out), err


def metrics(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["metric"]: m for m in doc["performance"]["metrics"]}


def test_ok_file_exits_0_and_metrics_equal_sklearn(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, err = run_json(capsys, work, "ok.csv")
    assert (code, err) == (0, "")
    perf = doc["performance"]
    assert perf["status"] == "ok" and perf["labels"] == 3000 and perf["coverage"] == 1.0
    df = pd.read_csv(work / "ok.csv")
    got = metrics(doc)
    assert got["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(df.truth, df.score), abs=1e-9)
    assert got["log_loss"]["value"] == pytest.approx(skm.log_loss(df.truth, df.score), abs=1e-9)
    assert got["f1"]["value"] == pytest.approx(skm.f1_score(df.truth, df.score >= 0.5), abs=1e-9)
    assert got["roc_auc"]["decides"] and not got["roc_auc"]["degraded"]
    assert perf["label_drift"]["status"] == "ok"
    assert doc["status"] == "ok"  # the drift part is unchanged


def test_degraded_model_exits_1(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = run_json(capsys, work, "degraded.csv")
    assert code == 1
    assert doc["status"] == "ok"  # same input distributions: only quality says no
    perf = doc["performance"]
    assert perf["status"] == "degraded"
    auc = metrics(doc)["roc_auc"]
    assert auc["degraded"] and auc["shortfall"] > auc["tolerance"] and auc["shortfall"] > 0.03


def test_table_output(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--baseline", str(work / "fraud.dmb"), "--input", str(work / "degraded.csv"),
        "--labels", "truth",
    )  # fmt: skip
    assert code == 1
    assert "performance on label 'truth' (binary): 3,000 labels (100% of rows) -> DEGRADED" in out
    line = next(x for x in out.splitlines() if x.startswith("roc_auc"))
    assert line.endswith("DEGRADED")


def test_too_few_labels_fails_closed(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, err = run_json(capsys, work, "sparse.csv")
    assert code == 2
    assert doc["performance"]["status"] == "insufficient_labels"
    assert doc["performance"]["labels"] == 50
    assert err.count("\n") == 1 and "--allow-insufficient" in err and "sparse.csv" in err
    code, _, _ = run_json(capsys, work, "sparse.csv", "--allow-insufficient")
    assert code == 0
    code, doc, _ = run_json(capsys, work, "sparse.csv", "--min-labels", "20")
    assert code == 0 and doc["performance"]["status"] == "ok"


def test_label_drift_is_reported(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc, _ = run_json(capsys, work, "prior.csv")
    drift = doc["performance"]["label_drift"]
    assert drift["status"] == "alert"
    assert drift["tests"]["chi2"]["p_value"] < 1e-6


@pytest.mark.parametrize(
    ("baseline", "label", "message"),
    [
        ("nolabel.dmb", "truth", "has no performance; rebuild it with `baseline build --label"),
        ("fraud.dmb", "nope", "label column 'nope' (--labels) is missing"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    work: Path, capsys: pytest.CaptureFixture[str], baseline: str, label: str, message: str
) -> None:
    code, _out, err = run(
        capsys, "--baseline", str(work / baseline), "--input", str(work / "ok.csv"),
        "--labels", label,
    )  # fmt: skip
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_without_labels_flag_nothing_changes(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "--baseline", str(work / "fraud.dmb"), "--input", str(work / "degraded.csv"),
        "--format", "json",
    )  # fmt: skip
    assert code == 0 and "performance" not in json.loads(out)


def test_config_labels_section_sets_the_decision(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "kafka: {bootstrap_servers: ['127.0.0.1:9092'], topics: [p], group_id: g}\n"
        f"baselines: {{dir: {work}}}\n"
        f"state: {{dir: {tmp_path / 'state'}}}\n"
        "models:\n  - name: fraud\n    labels: {min_labels: 40}\n"
    )
    code, doc, _ = run_json(capsys, work, "sparse.csv", "--config", str(config))
    assert code == 0 and doc["performance"]["status"] == "ok"  # 50 labels >= 40
    code, doc, err = run_json(capsys, work, "sparse.csv", "--config", str(config),
                              "--min-labels", "60")  # fmt: skip
    assert code == 2 and "--min-labels 60" in err
