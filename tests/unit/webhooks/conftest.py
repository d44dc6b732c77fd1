from tests.unit.webhooks.fixtures import clock, environ, outbox_path, receiver, rng

__all__ = ["clock", "environ", "outbox_path", "receiver", "rng"]
