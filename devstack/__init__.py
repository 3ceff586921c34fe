"""Dev tooling beside the service, never in its wheel or image: a real Kafka broker from Maven
Central jars (`kafka.py`), a private PostgreSQL cluster (`postgres.py`) and `zai-l10n demo`
(`demo.py`), for tests, benchmarks and the demo on machines without Docker (docs/devstack.md)."""
