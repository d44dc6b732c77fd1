"""The label join's store: SQLite in WAL mode (stdlib) and LMDB (``pip install lmdb``) on
the join's raw workload, and the join store itself (an in-memory table + append-only
operation log, :mod:`drift_monitor.labels.store`) on the same phases.

    .venv/bin/python -m bench.labels [--size small|full] [--batch 500]

The same workload on each, every batch one durable transaction (the join's flush()
before an offset commit): insert N tracked predictions (32-hex event id, window id,
event time, one float output) with an event-time index for expiry; then N labels in
shuffled order (80 % find their prediction: look up, set the label; 20 % miss: a
waiting-label insert); then expire the older half by event time (range scan + delete).
Prints records/s per phase and the files' size; ratios are same-run (a shared machine).
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import numpy as np

T0 = 1_767_225_600.0
_VAL = struct.Struct("<qdd")  # window id, event time, output
_KEY_T = struct.Struct(">d")


def _ids(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"{x:032x}" for x in rng.integers(0, 2**63, size=(n,), dtype=np.int64)]


def _batches(seq: list[tuple[object, ...]], size: int) -> Iterator[list[tuple[object, ...]]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


class SqliteJoin:
    """The workload on SQLite (WAL, ``synchronous`` FULL or NORMAL)."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute(
            "CREATE TABLE p (id TEXT PRIMARY KEY, w INTEGER, t REAL, out REAL, label REAL)"
            " WITHOUT ROWID"
        )
        self.db.execute("CREATE INDEX p_t ON p(t)")
        self.db.execute("CREATE TABLE pending (id TEXT PRIMARY KEY, label REAL) WITHOUT ROWID")

    def insert(self, rows: list[tuple[object, ...]]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR IGNORE INTO p VALUES (?,?,?,?,NULL)", rows)
        self.db.execute("COMMIT")

    def label(self, rows: list[tuple[object, ...]]) -> int:
        self.db.execute("BEGIN")
        ids = [r[0] for r in rows]
        marks = ",".join("?" * len(ids))
        found = {i for (i,) in self.db.execute(f"SELECT id FROM p WHERE id IN ({marks})", ids)}
        self.db.executemany(
            "UPDATE p SET label=? WHERE id=?", [(r[1], r[0]) for r in rows if r[0] in found]
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO pending VALUES (?,?)", [r for r in rows if r[0] not in found]
        )
        self.db.execute("COMMIT")
        return len(found)

    def expire(self, before: float, limit: int) -> int:
        self.db.execute("BEGIN")
        cur = self.db.execute(
            "DELETE FROM p WHERE id IN (SELECT id FROM p WHERE t < ? ORDER BY t LIMIT ?)",
            (before, limit),
        )
        self.db.execute("COMMIT")
        return cur.rowcount

    def close(self) -> None:
        self.db.close()


class LmdbJoin:
    """The workload on LMDB (sync on commit: durable like SQLite FULL)."""

    def __init__(self, path: Path) -> None:
        import lmdb  # noqa: PLC0415 - optional: only this benchmark needs it

        self.env = lmdb.open(str(path), map_size=8 << 30, max_dbs=3, sync=True)
        self.p = self.env.open_db(b"p")
        self.by_t = self.env.open_db(b"by_t")
        self.pending = self.env.open_db(b"pending")

    def insert(self, rows: list[tuple[object, ...]]) -> None:
        with self.env.begin(write=True) as txn:
            for eid, w, t, out in rows:
                key = str(eid).encode()
                if txn.put(key, _VAL.pack(w, t, out) + b"\x00" * 8, db=self.p, overwrite=False):
                    txn.put(_KEY_T.pack(float(cast(float, t))) + key, b"", db=self.by_t)

    def label(self, rows: list[tuple[object, ...]]) -> int:
        found = 0
        with self.env.begin(write=True) as txn:
            for eid, lab in rows:
                key = str(eid).encode()
                val = txn.get(key, db=self.p)
                if val is None:
                    txn.put(key, struct.pack("<d", lab), db=self.pending, overwrite=False)
                    continue
                found += 1
                txn.put(key, val[:24] + struct.pack("<d", lab), db=self.p)
        return found

    def expire(self, before: float, limit: int) -> int:
        done = 0
        with self.env.begin(write=True) as txn:
            cur = txn.cursor(db=self.by_t)
            keys: list[bytes] = []
            if cur.first():
                for k in cur.iternext(values=False):
                    if _KEY_T.unpack(k[:8])[0] >= before or len(keys) >= limit:
                        break
                    keys.append(bytes(k))
            for k in keys:
                txn.delete(k, db=self.by_t)
                txn.delete(k[8:], db=self.p)
                done += 1
        return done

    def close(self) -> None:
        self.env.close()


def _size(path: Path) -> int:
    files = [path] if path.is_file() else list(path.iterdir())
    siblings = list(path.parent.glob(path.name + "-*")) if path.is_file() else []
    return sum(f.stat().st_size for f in files + siblings)


def run(
    name: str, make: Callable[[Path], SqliteJoin | LmdbJoin], n: int, batch: int
) -> dict[str, float]:
    """The three phases on one store; records/s per phase and bytes on disk."""
    with tempfile.TemporaryDirectory(prefix="bench-labels-", dir=os.environ.get("TMPDIR")) as d:
        path = Path(d) / ("join.sqlite" if name.startswith("sqlite") else "join.lmdb")
        if not name.startswith("sqlite"):
            path.mkdir()
        store = make(path)
        ids = _ids(n, 1)
        preds: list[tuple[object, ...]] = [
            (eid, i // 10_000, T0 + i * 0.1, 0.5) for i, eid in enumerate(ids)
        ]
        rng = np.random.default_rng(2)
        hits = [ids[i] for i in rng.permutation(n)[: int(n * 0.8)]]
        misses = _ids(n - len(hits), 3)
        labels: list[tuple[object, ...]] = [(e, 1.0) for e in hits + misses]
        rng.shuffle(labels)
        out: dict[str, float] = {}
        t = time.perf_counter()
        for b in _batches(preds, batch):
            store.insert(b)
        out["insert/s"] = n / (time.perf_counter() - t)
        t = time.perf_counter()
        found = sum(store.label(b) for b in _batches(labels, batch))
        out["label/s"] = n / (time.perf_counter() - t)
        assert found == len(hits), (found, len(hits))
        t = time.perf_counter()
        cutoff = T0 + (n // 2) * 0.1
        deleted = 0
        while (k := store.expire(cutoff, batch)) > 0:
            deleted += k
        out["expire/s"] = deleted / (time.perf_counter() - t)
        assert deleted == n // 2, deleted
        store.close()
        out["MB"] = _size(path) / 1e6
    return out


def run_join_store(n: int, batch: int, synchronous: str = "FULL") -> dict[str, float]:
    """The same phases through :class:`drift_monitor.labels.store.JoinStore` itself
    (window counters, waiting labels, idempotency checks included; one log frame per
    flush, fsync'ed when ``synchronous`` is FULL)."""
    from drift_monitor.labels.store import JoinStore, Label, Prediction  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="bench-labels-", dir=os.environ.get("TMPDIR")) as d:
        store = JoinStore(
            Path(d) / "labels.join", max_delay=n * 0.05, max_entries=4 * n, synchronous=synchronous
        )
        ids = _ids(n, 1)
        preds = [
            Prediction(e, i // 10_000, T0 + (i // 10_000 + 1) * 1000.0, T0 + i * 0.1, (0.5,))
            for i, e in enumerate(ids)
        ]
        rng = np.random.default_rng(2)
        hits = [ids[i] for i in rng.permutation(n)[: int(n * 0.8)]]
        labels = [Label(e, 1.0, T0 + n * 0.1) for e in hits + _ids(n - len(hits), 3)]
        order = rng.permutation(len(labels))
        labels = [labels[i] for i in order]
        out: dict[str, float] = {}
        flush_s = 0.0
        t = time.perf_counter()
        for i in range(0, n, batch):
            store.apply("m", preds[i : i + batch])
            f = time.perf_counter()
            store.flush()
            flush_s += time.perf_counter() - f
        out["insert/s"] = n / (time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(0, n, batch):
            store.apply("m", labels=labels[i : i + batch])
            f = time.perf_counter()
            store.flush()
            flush_s += time.perf_counter() - f
        out["label/s"] = n / (time.perf_counter() - t)
        # Where the time goes: the fsync of each flush vs the join's own work.
        flush_ms = 1000 * flush_s / (2 * math.ceil(n / batch))
        assert store.counters("m").joined == len(hits)
        t = time.perf_counter()
        store.expire(T0 + n * 0.1 + n * 0.05 + 1)  # every unlabelled prediction and waiting label
        store.flush()
        gone = store.counters("m").expired + store.counters("m").orphaned
        out["expire/s"] = gone / (time.perf_counter() - t)
        store.close()
        out["MB"] = _size(Path(d) / "labels.join") / 1e6
        out["flush_ms"] = flush_ms
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the workload on every store and print the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=("small", "full"), default="full")
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args(argv)
    n = 20_000 if args.size == "small" else 300_000
    print(f"$ python -m bench.labels --size {args.size} --batch {args.batch}  ({n:,} records)")
    stores: dict[str, Callable[[Path], SqliteJoin | LmdbJoin]] = {
        "sqlite-wal-full": lambda p: SqliteJoin(p, "FULL"),
        "sqlite-wal-normal": lambda p: SqliteJoin(p, "NORMAL"),
    }
    try:
        import lmdb  # noqa: F401, PLC0415

        stores["lmdb-sync"] = LmdbJoin
    except ImportError:
        print("lmdb: not installed (pip install lmdb) - skipped")
    results = {name: run(name, make, n, args.batch) for name, make in stores.items()}
    results["JoinStore (FULL)"] = run_join_store(n, args.batch)
    results["JoinStore (NORMAL)"] = run_join_store(n, args.batch, "NORMAL")
    print(f"{'store':<20}" + "".join(f"{k:>12}" for k in next(iter(results.values()))))
    for name, r in results.items():
        print(
            f"{name:<20}"
            + "".join(f"{r[k]:>12,.1f}" for k in ("insert/s", "label/s", "expire/s", "MB"))
        )
    js = results["JoinStore (FULL)"]
    print(f"JoinStore flush (fsync) per batch of {args.batch}: {js['flush_ms']:.1f} ms")
    for phase in ("insert/s", "label/s", "expire/s"):
        ratio = js[phase] / results["sqlite-wal-full"][phase]
        print(f"ratio JoinStore (FULL)/sqlite-wal-full {phase}: {ratio:.2f}")
    if "lmdb-sync" in results:
        for phase in ("insert/s", "label/s", "expire/s"):
            ratio = results["sqlite-wal-full"][phase] / results["lmdb-sync"][phase]
            print(f"ratio sqlite-wal-full/lmdb {phase}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
