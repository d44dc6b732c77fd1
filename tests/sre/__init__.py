"""SRE-facing tests: the live dashboard against a real daemon, Kafka and Prometheus;
readiness through a broker outage; the Prometheus metrics contract of SPEC.md."""

#: Version of the demo dataset's training baseline the SRE tests load
#: (:func:`tests.services.streams.training_baseline`).
TRAINING_VERSION = "sre-train-20000-seed7"
