"""Record value -> validated event."""

from drift_monitor.decode.decoder import INVALID_REASONS, Decoder, Event

__all__ = ["INVALID_REASONS", "Decoder", "Event"]
