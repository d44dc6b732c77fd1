"""Where the delivery guarantee lives: per-partition progress, the window checkpoint
stored as Kafka commit metadata, and the checkpointer that commits only after every
sink made its effects durable."""

from drift_monitor.checkpoint.checkpointer import Checkpointer, Flush
from drift_monitor.checkpoint.metadata import METADATA_MAX, CommitMetadata, MetadataError
from drift_monitor.checkpoint.offsets import OffsetTracker, PartitionProgress

__all__ = [
    "METADATA_MAX",
    "Checkpointer",
    "CommitMetadata",
    "Flush",
    "MetadataError",
    "OffsetTracker",
    "PartitionProgress",
]
