"""The chart's adoption policy: rendered unless adoption.allowedGroups is empty."""

from typing import Any

from tests.support.chart import documents, only


def adoption(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The adoption policy and its binding (the chart renders other admission policies)."""
    return [
        d
        for d in docs
        if d["kind"].startswith("ValidatingAdmissionPolicy")
        and d["metadata"]["name"].endswith("-adoption")
    ]


def test_by_default_only_cluster_admins_may_adopt() -> None:
    policy = only(adoption(documents()), "ValidatingAdmissionPolicy")
    allowed = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}["allowed"]
    assert allowed == '["system:masters"]'


def test_no_adoption_policy_when_no_groups_are_named() -> None:
    assert adoption(documents({"adoption": {"allowedGroups": []}})) == []


def test_allowed_groups_render_the_policy_and_its_binding() -> None:
    docs = adoption(documents({"adoption": {"allowedGroups": ["platform-admins", "sre"]}}))
    policy = only(docs, "ValidatingAdmissionPolicy")
    binding = only(docs, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    allowed = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}["allowed"]
    assert allowed == '["platform-admins","sre"]'
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rules[0]["operations"] == ["CREATE", "UPDATE"] and rules[0]["resources"] == ["tenants"]
