from __future__ import annotations

import base64

from devstack.kafka import new_cluster_id


def test_cluster_ids_are_kafka_uuids() -> None:
    for _ in range(200):
        cid = new_cluster_id()
        assert len(cid) == 22
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16
