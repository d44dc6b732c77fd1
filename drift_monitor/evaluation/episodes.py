"""Drift episodes: hysteresis that turns window verdicts into incidents.

A model *enters* an episode after ``enter_after`` consecutive alerting windows and
*resolves* it after ``resolve_after`` consecutive clean (ok or warning) windows;
``insufficient_data`` windows neither extend nor break a run. A new episode cannot
start within ``cooldown_seconds`` (event time) of the last resolution. Each episode
yields exactly one ``drift.detected`` and one ``drift.resolved`` transition with the
same stable id, derived from the model and the event time of the window that opened
it, so a re-evaluation after a crash produces the same id again (the webhook outbox
deduplicates on it). Windows at or before the last one seen are ignored, so a window
replayed after a restart is never counted twice.

State is a small JSON file per state directory, written atomically on every change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from drift_monitor.errors import ConfigError, SinkError
from drift_monitor.evaluation.results import Status, WindowResult
from drift_monitor.evaluation.settings import EpisodeSettings


@dataclass(slots=True)
class ModelEpisode:
    """Hysteresis state of one model (serialised to the state file)."""

    alert_run: int = 0
    clean_run: int = 0
    episode_id: str | None = None
    started_at: float | None = None  # event time (window end) the episode started
    resolved_at: float | None = None
    last_window_end: float | None = None


TransitionType = Literal[
    "drift.detected", "drift.resolved", "performance.degraded", "performance.recovered"
]
#: An episode tracker's kind -> (opening, resolving) transition types. ``performance``
#: episodes (model quality, issue 15) run on final prediction windows' verdicts:
#: degraded counts as alerting, ok as clean, insufficient labels as neither.
KINDS: dict[str, tuple[TransitionType, TransitionType]] = {
    "drift": ("drift.detected", "drift.resolved"),
    "performance": ("performance.degraded", "performance.recovered"),
}


@dataclass(frozen=True, slots=True)
class Transition:
    """An episode opened (``drift.detected`` / ``performance.degraded``) or closed
    (``drift.resolved`` / ``performance.recovered``). ``result``: the drift window that
    caused it (None for a performance transition, whose caller keeps its window)."""

    type: TransitionType
    episode_id: str
    model: str
    result: WindowResult | None


def segment_key(model: str, segment: str) -> str:
    """The episode key of one segment of ``model``: ``<model>.seg-<slug>-<hash>``, the
    segment name made id-safe (``[A-Za-z0-9_-]``, at most 32 characters) plus 8 hex
    digits of its SHA-256, so distinct segments never share an episode."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", segment)[:32]
    digest = hashlib.sha256(segment.encode()).hexdigest()[:8]
    return f"{model}.seg-{slug}-{digest}"


def episode_id(model: str, window_end: float, kind: str = "drift") -> str:
    """Stable id of the episode opened by the window ending at ``window_end`` (epoch s):
    ``<kind>-<model>-<UTC stamp>``."""
    total_ms = round(window_end * 1000)
    seconds, ms = divmod(total_ms, 1000)
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{kind}-{model}-{stamp}{ms:03d}Z"


@dataclass(frozen=True, slots=True)
class Step:
    """What one window does to a model's episode state: the state after it and the
    transition it causes (None: the window only moved the runs). Not applied yet."""

    model: str
    after: ModelEpisode
    transition: Transition | None


@dataclass
class EpisodeTracker:
    """Per-model episode state machine, persisted to ``path`` (None = in memory).

    Two ways to drive it: :meth:`propose` + :meth:`commit` (the daemon: the state
    changes only once the transition's effects are durable and the file is written,
    so a retried window is neither counted twice nor given a new id), or
    :meth:`observe` + :meth:`save` (in-memory change first, persisted later).
    """

    settings: dict[str, EpisodeSettings]
    path: Path | None = None
    kind: str = "drift"
    _state: dict[str, ModelEpisode] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.path is not None and self.path.exists():
            self._state = _read_state(self.path)

    def state(self, model: str) -> ModelEpisode:
        """The (live) state of ``model``."""
        return self._state.setdefault(model, ModelEpisode())

    def in_episode(self, model: str) -> bool:
        """True while ``model`` has an open incident."""
        return self.state(model).episode_id is not None

    def propose(self, result: WindowResult, key: str | None = None) -> Step | None:
        """The effect of one closed window's verdict, without applying it; None for a
        window at or before the last one seen (a replay) or without an end. ``key``:
        the state (and episode id) of a segment of the model (:func:`segment_key`);
        settings are the model's."""
        if result.end is None:
            return None
        return self.propose_status(result.model, result.end, result.status, result, key)

    def propose_status(
        self,
        model: str,
        end: float,
        status: Status,
        result: WindowResult | None = None,
        key: str | None = None,
    ) -> Step | None:
        """:meth:`propose` for a verdict given as its ``status`` and window ``end``
        (epoch s): ALERT extends the alerting run, OK/WARNING the clean run,
        INSUFFICIENT_DATA neither. None for a window at or before the last one seen.
        ``key``: the state (and episode id) of a segment of ``model``."""
        opening, resolving = KINDS[self.kind]
        key = key or model
        with self._lock:
            st = replace(self.state(key))
        if st.last_window_end is not None and end <= st.last_window_end:
            return None
        st.last_window_end = end
        cfg = self.settings.get(model) or EpisodeSettings()
        transition: Transition | None = None
        if status == Status.ALERT:
            st.alert_run += 1
            st.clean_run = 0
        elif status in (Status.OK, Status.WARNING):
            st.clean_run += 1
            st.alert_run = 0
        if st.episode_id is None and st.alert_run >= cfg.enter_after:
            cooled = st.resolved_at is None or (end - st.resolved_at >= cfg.cooldown_seconds)
            if cooled:
                st.episode_id = episode_id(key, end, self.kind)
                st.started_at = end
                transition = Transition(opening, st.episode_id, model, result)
        elif st.episode_id is not None and st.clean_run >= cfg.resolve_after:
            transition = Transition(resolving, st.episode_id, model, result)
            st.episode_id = None
            st.resolved_at = end
            st.alert_run = 0
        return Step(key, st, transition)

    def commit(self, step: Step) -> None:
        """Persist ``step`` (atomic write + fsync), then apply it in memory. Call it
        after the step's transition is durably handed on (outbox, report topic).
        Raises SinkError naming the file when it cannot be written; nothing changes
        then (not even in memory), so the retried window proposes the same step."""
        with self._lock:
            models = {m: asdict(s) for m, s in self._state.items()}
        models[step.model] = asdict(step.after)
        self._write(models)
        with self._lock:
            self._state[step.model] = step.after

    def observe(self, result: WindowResult) -> Transition | None:
        """Feed one closed window's verdict and apply it in memory; returns the
        transition it causes, if any. Persisted only by :meth:`save`."""
        step = self.propose(result)
        if step is None:
            return None
        with self._lock:
            self._state[step.model] = step.after
        return step.transition

    def save(self) -> None:
        """Persist the state (atomic write + fsync). Call it after the transitions that
        ``observe`` returned are durably handed on (webhook outbox): a crash in between
        re-derives the same transition, with the same id, from the replayed window.
        Raises SinkError naming the file when it cannot be written."""
        with self._lock:
            models = {m: asdict(s) for m, s in self._state.items()}
        self._write(models)

    def _write(self, models: dict[str, dict[str, Any]]) -> None:
        if self.path is None:
            return
        doc: dict[str, Any] = {"version": 1, "models": models}
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".episodes-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            raise SinkError(
                "episodes",
                str(self.path),
                f"cannot write episode state: {exc.strerror or exc}; free space or fix "
                "permissions of the state directory (retrying, nothing is committed)",
            ) from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _read_state(path: Path) -> dict[str, ModelEpisode]:
    """The models of an episode state file; ConfigError (exit 2) naming the file when
    it is unreadable or not an episode state."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("models", {}), dict):
            raise ValueError("not an episode state object")
        return {str(m): ModelEpisode(**v) for m, v in raw.get("models", {}).items()}
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"{path}: cannot read episode state ({exc}); move the file away to start "
            "with no open incidents"
        ) from None
