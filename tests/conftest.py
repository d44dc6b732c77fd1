from tests.services.kafka import kafka_broker, own_broker  # noqa: F401
