from tests.services.kafka import kafka_broker  # noqa: F401
