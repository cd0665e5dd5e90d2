def test_a_slug_naming_another_tenants_data_key_policy_is_refused() -> None:
    """``acme-data-key`` would derive ``tenant-acme-data-key``: tenant acme's data-key
    policy (in the mount layout the same place as tenant policies)."""
    from tenant_operator.domain.reserved import NameContext, collisions, openbao_untouchable

    found = collisions("acme-data-key", NameContext(layout="mount"))
    assert [c.owner for c in found] == [
        "the data-key policy of tenant acme (decrypt with its transit key)"
    ]
    assert openbao_untouchable("acme-data-key", NameContext(layout="mount"))
    assert collisions("acme-data-keys", NameContext(layout="mount")) == ()
