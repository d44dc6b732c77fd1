from tests.services.backends import kafka_client, pytest_generate_tests  # noqa: F401
from tests.services.kafka import kafka_broker, own_broker  # noqa: F401
