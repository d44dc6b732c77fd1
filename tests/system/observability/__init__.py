"""SRE-facing tests: the live dashboard against a real daemon, Kafka and Prometheus;
readiness through a broker outage; the Prometheus metrics contract of SPEC.md."""
