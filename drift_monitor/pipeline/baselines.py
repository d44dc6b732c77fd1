"""Per-model baselines loaded from the configured directory, hot-reloaded on change."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from drift_monitor.baseline.model import Baseline
from drift_monitor.baseline.segments import require_segments
from drift_monitor.baseline.store import load_baseline
from drift_monitor.config.models import AppConfig
from drift_monitor.errors import BaselineError
from drift_monitor.windows.layout import ModelLayout

log = logging.getLogger("drift_monitor.baselines")


@dataclass(frozen=True, slots=True)
class LoadedBaseline:
    """A loaded baseline, its column layout, and the file's identity (mtime, size)."""

    baseline: Baseline
    layout: ModelLayout
    path: Path
    stamp: tuple[int, int]


class BaselineRegistry:
    """The baseline of every configured model. A model whose file is missing or invalid
    has none (its events count as ``unknown_model``) and does not stop the others."""

    def __init__(self, config: AppConfig) -> None:
        self._paths = {m.name: config.baseline_path(m) for m in config.models}
        self._segment_by = {m.name: m.detection.segment_by for m in config.models}
        self._loaded: dict[str, LoadedBaseline] = {}
        self.errors: dict[str, str] = {}

    @property
    def paths(self) -> dict[str, Path]:
        """Configured baseline file per model."""
        return dict(self._paths)

    def get(self, model: str) -> LoadedBaseline | None:
        """The loaded baseline of ``model`` (None: unknown model or not loadable)."""
        return self._loaded.get(model)

    def reload(self) -> dict[str, LoadedBaseline | None]:
        """Load new or changed files; returns the models whose baseline changed, each
        with its previous baseline (None when it had none).

        A file that fails to load keeps the previous baseline (if any) and records the
        error (logged once per distinct error).
        """
        changed: dict[str, LoadedBaseline | None] = {}
        for model, path in self._paths.items():
            try:
                st = os.stat(path)
            except OSError:
                self._error(model, f"{path}: baseline file not found")
                continue
            stamp = (st.st_mtime_ns, st.st_size)
            current = self._loaded.get(model)
            if current is not None and current.stamp == stamp:
                continue
            try:
                baseline, layout = _load(model, path, self._segment_by.get(model))
            except BaselineError as exc:
                self._error(model, str(exc))
                continue
            except Exception as exc:  # a loader bug must never stop the consume loop
                log.exception("unexpected error loading %s", path, extra={"model": model})
                self._error(
                    model,
                    f"{path}: cannot load baseline ({type(exc).__name__}: {exc}); keeping the "
                    "previous one; rebuild the file with `drift-monitor baseline build`",
                )
                continue
            if current is not None and current.baseline.checksum == baseline.checksum:
                self._loaded[model] = LoadedBaseline(current.baseline, current.layout, path, stamp)
                continue
            self._loaded[model] = LoadedBaseline(baseline, layout, path, stamp)
            self.errors.pop(model, None)
            changed[model] = current
            log.info(
                "baseline loaded",
                extra={"model": model, "version": baseline.version, "path": str(path)},
            )
        return changed

    def _error(self, model: str, message: str) -> None:
        # The previous baseline (if any) stays in self._loaded: a bad file never unloads it.
        if self.errors.get(model) != message:
            log.error("baseline unavailable: %s", message, extra={"model": model})
        self.errors[model] = message


def _load(model: str, path: Path, segment_by: str | None = None) -> tuple[Baseline, ModelLayout]:
    """Load, check and prepare ``path`` for ``model``; BaselineError for a bad file (or
    one without the segments ``segment_by`` asks for)."""
    baseline = load_baseline(path)
    if baseline.model != model:
        raise BaselineError(
            f"{path}: baseline is for model {baseline.model!r}, not {model!r}; "
            "point models[].baseline at the right file"
        )
    require_segments(baseline, segment_by, str(path))
    try:
        baseline.prepared()  # sort reference samples etc. now, not on the first window
        layout = ModelLayout.from_baseline(baseline)
    except (ValueError, TypeError, KeyError) as exc:
        raise BaselineError(f"{path}: unusable baseline ({exc}); rebuild it") from None
    return baseline, layout
