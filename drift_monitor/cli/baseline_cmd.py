"""``drift-monitor baseline build|show``."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from drift_monitor.baseline import (
    Baseline,
    CategoricalProfile,
    NumericProfile,
    build_baseline,
    load_baseline,
    save_baseline,
)
from drift_monitor.baseline.segments import DEFAULT_TOP_K, MAX_TOP_K
from drift_monitor.cli.progress import ProgressLine
from drift_monitor.stats.performance import metric_names
from drift_monitor.tables import read_table


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def register(sub: Any) -> None:
    """Add ``baseline build`` and ``baseline show`` to the CLI."""
    p = sub.add_parser("baseline", help="build or inspect a training baseline")
    bsub = p.add_subparsers(dest="baseline_command", required=True, metavar="ACTION")
    b = bsub.add_parser("build", help="profile training data into a baseline file")
    b.add_argument("--model", required=True, help="model name the baseline belongs to")
    b.add_argument("--input", required=True, help="training data: .csv, .parquet or .jsonl")
    b.add_argument("--out", required=True, help="baseline file to write (.dmb)")
    b.add_argument("--prediction", type=_names, default=[], help="prediction column(s), a,b")
    b.add_argument("--categorical", type=_names, default=[], help="force categorical: a,b")
    b.add_argument("--numeric", type=_names, default=[], help="force numeric: a,b")
    b.add_argument("--exclude", type=_names, default=[], help="columns to leave out: a,b")
    b.add_argument("--version", dest="baseline_version", help="baseline version (default: time)")
    b.add_argument("--sample-size", type=int, default=100_000, help="reference sample cap")
    b.add_argument("--bins", type=int, default=10, help="PSI quantile bins (default 10)")
    b.add_argument("--max-categories", type=int, default=1000, help="categories kept per column")
    b.add_argument("--seed", type=int, default=0, help="seed of the reference sample")
    b.add_argument(
        "--label",
        help="ground-truth column of a labelled validation set: store the model's "
        "performance (needs --prediction)",
    )
    b.add_argument(
        "--segment-by",
        help="column whose most frequent values each get a baseline of their own "
        "(per-segment drift, detection.segment_by)",
    )
    b.add_argument(
        "--segment-top-k",
        type=int,
        default=DEFAULT_TOP_K,
        help=f"segments kept with --segment-by; the rest pooled into __other__ "
        f"(default {DEFAULT_TOP_K}, at most {MAX_TOP_K})",
    )
    b.set_defaults(handler=_build)
    s = bsub.add_parser("show", help="print a readable summary of a baseline file")
    s.add_argument("path", help="baseline file (.dmb)")
    s.set_defaults(handler=_show)


def _build(args: argparse.Namespace) -> int:
    df = read_table(args.input, progress=ProgressLine(f"reading {args.input}"))
    baseline = build_baseline(
        df,
        args.model,
        version=args.baseline_version,
        prediction=args.prediction,
        categorical=args.categorical,
        numeric=args.numeric,
        exclude=args.exclude,
        sample_size=args.sample_size,
        bins=args.bins,
        max_categories=args.max_categories,
        seed=args.seed,
        source=str(args.input),
        label=args.label,
        segment_by=args.segment_by,
        segment_top_k=args.segment_top_k,
    )
    saved = save_baseline(baseline, args.out)
    n_num = sum(c.kind == "numeric" for c in saved.columns)
    print(
        f"wrote {args.out}: model {saved.model!r} version {saved.version}, "
        f"{len(df):,} rows, {len(saved.columns)} columns ({n_num} numeric, "
        f"{len(saved.columns) - n_num} categorical), {saved.checksum[:19]}…"
    )
    if saved.performance is not None:
        print(render_performance(saved).rstrip("\n"))
    if saved.segments is not None:
        print(render_segments(saved).rstrip("\n"))
    return 0


def _show(args: argparse.Namespace) -> int:
    sys.stdout.write(render_summary(load_baseline(args.path)))
    return 0


def render_summary(b: Baseline) -> str:
    """A human-readable summary of a baseline: metadata, then one line per column."""
    lines = [
        f"model:       {b.model}",
        f"version:     {b.version}",
        f"created_at:  {b.created_at}",
        f"source:      {b.source}",
        f"schema:      {b.schema_version}   checksum: {b.checksum}",
        "build:       " + ", ".join(f"{k}={v}" for k, v in sorted(b.build.items())),
        "",
        f"{'COLUMN':<24} {'KIND':<12} {'ROWS':>9} {'MISSING':>8}  SUMMARY",
    ]
    for c in b.columns:
        p = c.profile
        if isinstance(p, NumericProfile):
            q = p.quantile_values
            summary = (
                f"mean {p.mean:.4g} std {p.std:.4g} min {p.minimum:.4g} p50 {q[50]:.4g} "
                f"max {p.maximum:.4g}; {p.inner_edges.shape[0] + 1} PSI bins, "
                f"sample {p.reference_sample.shape[0]:,}"
            )
        elif isinstance(p, CategoricalProfile):
            total = sum(p.counts)
            top = ", ".join(
                f"{k} {n / total:.0%}" for k, n in zip(p.categories[:4], p.counts, strict=False)
            )
            more = f" (+{len(p.categories) - 4} more)" if len(p.categories) > 4 else ""
            pooled = ", tail pooled in __other__" if p.pooled_other else ""
            summary = f"{p.distinct} categories: {top}{more}{pooled}"
        else:
            summary = "no values in training data: only the missing ratio is monitored"
        lines.append(
            f"{c.name:<24} {c.reported_kind:<12} {c.rows:>9,} {c.missing_ratio:>8.1%}  {summary}"
        )
    if b.performance is not None:
        lines += ["", render_performance(b).rstrip("\n")]
    if b.segments is not None:
        lines += ["", render_segments(b).rstrip("\n")]
    return "\n".join(lines) + "\n"


def render_segments(b: Baseline) -> str:
    """The segments of a baseline built with ``--segment-by``: one line per segment."""
    segs = b.segments
    if segs is None:
        return ""
    lines = [
        f"segments:    by {segs.column!r}, top {segs.top_k} "
        f"({len(segs.segments) - 1} kept + __other__)"
    ]
    total = sum(s.rows for s in segs.segments) or 1
    for s in segs.segments:
        cols = f"{len(s.baseline.columns)} columns" if s.baseline else "no rows: not judged"
        lines.append(f"  {s.name:<22} {s.rows:>9,} rows {s.rows / total:>6.1%}  {cols}")
    return "\n".join(lines) + "\n"


# --- baseline performance (``--label``) ------------------------------------------------
def render_performance(b: Baseline) -> str:
    """The validation-set performance of a baseline built with ``--label``: one line per
    metric with its chance tolerance at 200 and 1000 labels (the 99 % quantile of a
    window's shortfall against this baseline, its own error included: the tolerance of
    a single deciding metric, :meth:`BaselinePerformance.chance_tolerance`)."""
    perf = b.performance
    if perf is None:
        return ""
    spec = perf.spec
    classes = f", classes {', '.join(spec.classes)}" if spec.task == "multiclass" else ""
    lines = [
        f"performance: {spec.task} on label {spec.label!r} vs {', '.join(spec.predictions)}"
        f" ({perf.count:,} labelled rows{classes})",
        f"  {'METRIC':<10} {'VALUE':>10} {'±@200':>9} {'±@1000':>9}",
    ]
    for metric in metric_names(spec.task):
        value = perf.metrics.get(metric, float("nan"))
        tol = [perf.chance_tolerance(metric, n) for n in (200, 1000)]
        cells = [f"{t:.4f}" if math.isfinite(t) else "-" for t in (value, *tol)]
        lines.append(f"  {metric:<10} {cells[0]:>10} {cells[1]:>9} {cells[2]:>9}")
    return "\n".join(lines) + "\n"
