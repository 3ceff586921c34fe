"""The `tenant` label of the per-tenant usage metrics stays bounded."""

from __future__ import annotations

from service.metrics import OTHER_TENANTS, Metrics, TenantLabels


def test_allow_listed_tenants_then_the_first_slots_then_other() -> None:
    label = TenantLabels(allow=["vip"], slots=2)
    seen = [label(t) for t in ["a", "vip", "b", "c", "a", "d", "vip", "b"]]
    assert seen == ["a", "vip", "b", OTHER_TENANTS, "a", OTHER_TENANTS, "vip", "b"]


def test_series_stay_within_allow_plus_slots_plus_one() -> None:
    metrics = Metrics(tenants=TenantLabels(allow=["vip"], slots=3))
    for i in range(500):
        metrics.tenant_usage(f"t{i}", calls=1, prompt=2, completion=3, characters=4)
    metrics.tenant_usage("vip", calls=1, prompt=2, completion=3, characters=4)
    tenants = {
        s.labels["tenant"]
        for family in metrics.registry.collect()
        if family.name == "zai_l10n_tenant_tokens"
        for s in family.samples
    }
    assert tenants == {"t0", "t1", "t2", "vip", OTHER_TENANTS}
    value = metrics.registry.get_sample_value
    assert value("zai_l10n_tenant_characters_total", {"tenant": OTHER_TENANTS}) == 497 * 4
    assert value("zai_l10n_tenant_tokens_total", {"tenant": "vip", "kind": "completion"}) == 3


def test_no_slots_means_only_the_allow_list_is_named() -> None:
    label = TenantLabels(allow=["acme"], slots=0)
    assert (label("acme"), label("globex")) == ("acme", OTHER_TENANTS)
