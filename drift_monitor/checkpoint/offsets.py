"""Per-partition progress of one consumer: what was read, counted, replayed, and which
models were seen (the commit bound is computed from it and the open windows)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class PartitionProgress:
    """One partition. Offsets are Kafka offsets; ``-1`` = none.

    ``next_offset``: the next offset to read (-1 before the first record since the
    last reset). ``first_read``: the first offset processed since the last reset.
    ``replay_until``: offsets below it were processed by an earlier run or before a
    rewind (their windows may be closed already). ``counted_until``: offsets below it
    were counted in ``events_total`` (and dead-lettered): by this process, or by the
    consumer whose commit carried them in its high-water mark (:meth:`restore`).
    ``resume_at``: where reading resumes after the last reset (the committed offset, or
    the first offset read before the reset); -1 when unknown. ``committed``: the last
    offset this process committed or found committed (kept across resets).
    """

    next_offset: int = -1
    first_read: int = -1
    replay_until: int = -1
    counted_until: int = -1
    resume_at: int = -1
    committed: int = -1
    models: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class MovedBack:
    """``tp``'s position moved back from ``expected`` to ``offset`` (module docstring of
    :meth:`OffsetTracker.read`): what this process counted there no longer applies."""

    topic: str
    partition: int
    offset: int
    expected: int
    vanished: bool = False  # the group's commit vanished (``offset`` is then 0: unknown)


class OffsetTracker:
    """Progress of every partition this process reads (single-threaded: the loop)."""

    def __init__(self) -> None:
        self._parts: dict[TopicPartition, PartitionProgress] = {}

    def _get(self, tp: TopicPartition) -> PartitionProgress:
        p = self._parts.get(tp)
        if p is None:
            p = self._parts[tp] = PartitionProgress()
        return p

    def moved_back(self, tp: TopicPartition, offset: int) -> MovedBack | None:
        """Whether ``offset``, about to be :meth:`read` on ``tp``, is below where the
        partition's position was: then returns the move, after restarting the
        partition's counted/replay bookkeeping.

        A position that moves back on its own is a new log, not a re-read: the topic was
        deleted and recreated (offsets start again at 0), or the consumer's position was
        reset to an earlier offset (``auto_offset_reset`` after an out-of-range fetch).
        Re-reads happen only after :meth:`reset`, from the committed offset (or the first
        offset read before it) on; so ``offset`` below the previous record's successor
        (no reset in between), or below where reading resumes after a reset
        (:meth:`resume`), means the log changed, and its records count (and are
        dead-lettered) once more. Re-reads from the committed offset after a rebalance
        or a failed effect start at that offset, never below: unaffected.
        """
        p = self._get(tp)
        expected = p.next_offset if p.next_offset >= 0 else p.resume_at
        p.resume_at = -1
        if not 0 <= offset < expected:
            return None
        p.counted_until = p.replay_until = -1
        p.first_read = -1
        return MovedBack(tp[0], tp[1], offset, expected)

    def bounds(self, tp: TopicPartition, offset: int) -> tuple[int, int]:
        """(``counted_until``, ``replay_until``) of ``tp`` as they will be once
        :meth:`moved_back` and :meth:`read` took ``offset`` (the next record read on
        ``tp``); changes nothing (the batch path plans a batch before reading it)."""
        p = self._parts.get(tp)
        if p is None:
            return -1, -1
        expected = p.next_offset if p.next_offset >= 0 else p.resume_at
        if 0 <= offset < expected:
            return -1, -1
        return p.counted_until, p.replay_until

    def read(self, tp: TopicPartition, offset: int) -> PartitionProgress:
        """``offset`` of ``tp`` is being processed now (after :meth:`moved_back`)."""
        p = self._get(tp)
        if p.first_read < 0:
            p.first_read = offset
        p.next_offset = offset + 1
        return p

    def unread(self, tp: TopicPartition, offset: int) -> None:
        """Processing ``offset`` failed (a sink error): the next read starts there again.
        (Whether it was counted stays as it was: a record is counted only once its
        processing succeeded, or by an earlier pass.)"""
        self._get(tp).next_offset = offset

    def saw_model(self, tp: TopicPartition, model: str) -> None:
        """``model``'s events arrive on ``tp``."""
        self._get(tp).models.add(model)

    def models_on(self, tp: TopicPartition) -> set[str]:
        """Models seen on ``tp`` since the last reset."""
        p = self._parts.get(tp)
        return set(p.models) if p is not None else set()

    def models_behind(self, lagging: Collection[TopicPartition]) -> set[str]:
        """Models seen on any partition in ``lagging``."""
        return {m for tp in lagging for m in self.models_on(tp)}

    def spread(self) -> dict[str, set[TopicPartition]]:
        """model -> the partitions it was seen on."""
        out: dict[str, set[TopicPartition]] = {}
        for tp, p in self._parts.items():
            for m in p.models:
                out.setdefault(m, set()).add(tp)
        return out

    def positions(self) -> Iterator[tuple[TopicPartition, PartitionProgress]]:
        """Partitions read since the last reset, with their progress."""
        for tp, p in self._parts.items():
            if p.next_offset >= 0:
                yield tp, p

    def first_offsets_read(self) -> dict[TopicPartition, int]:
        """Per partition, the first offset processed since the last reset."""
        return {tp: p.first_read for tp, p in self._parts.items() if p.first_read >= 0}

    def restore(self, tp: TopicPartition, high_water: int) -> None:
        """Offsets below ``high_water`` (a commit's high-water mark) were processed by an
        earlier run or another member of the group: replays, and already counted. The
        committer flushed their effects (dead letters included) before committing, so a
        re-read to rebuild open windows counts none of them again: over the group,
        ``events_total`` counts each record once. (A record read past the last commit by
        a consumer that then crashed is counted again by the next one: at least once.)"""
        p = self._get(tp)
        p.replay_until = max(p.replay_until, high_water)
        p.counted_until = max(p.counted_until, high_water)

    def resume(self, tp: TopicPartition, offset: int | None) -> MovedBack | None:
        """After :meth:`reset`, ``tp`` is read again from its committed ``offset`` (None:
        the group has no commit for it): a first record below it means the log moved
        back (see :meth:`read`). A commit that vanished (this process committed ``tp``,
        and now the group has none: the topic was deleted, which deletes its commits,
        and recreated) is a new log too: the bookkeeping restarts and the move is
        returned (``offset`` 0, ``expected`` the vanished commit or the offset read up
        to, whichever is larger)."""
        p = self._get(tp)
        if offset is not None:
            p.resume_at = p.committed = offset
            return None
        if p.committed < 0:
            return None
        # Where this process was: its commit, or what it read beyond it.
        moved = MovedBack(tp[0], tp[1], 0, max(p.committed, p.counted_until), vanished=True)
        p.counted_until = p.replay_until = p.resume_at = p.committed = -1
        return moved

    def committed(self, tp: TopicPartition, offset: int) -> None:
        """``offset`` was committed for ``tp``."""
        self._get(tp).committed = offset

    def reset(self) -> None:
        """Before re-reading from the committed offsets (rebalance, rewind after a
        failed effect): what was read becomes replay and counted; positions go."""
        for p in self._parts.values():
            if p.next_offset >= 0:
                p.replay_until = max(p.replay_until, p.next_offset)
                p.counted_until = max(p.counted_until, p.next_offset)
                # Without a commit the loop re-reads from the first offset read.
                p.resume_at = p.first_read
            p.next_offset = -1
            p.first_read = -1
            p.models.clear()
