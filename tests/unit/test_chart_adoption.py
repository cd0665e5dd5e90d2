"""The chart's adoption policy: rendered only when adoption.allowedGroups names groups."""

from tests.e2e.chart import documents, find, only


def test_no_adoption_policy_by_default() -> None:
    assert find(documents(), "ValidatingAdmissionPolicy") == []


def test_allowed_groups_render_the_policy_and_its_binding() -> None:
    docs = documents({"adoption": {"allowedGroups": ["platform-admins", "sre"]}})
    policy = only(docs, "ValidatingAdmissionPolicy")
    binding = only(docs, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    allowed = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}["allowed"]
    assert allowed == '["platform-admins","sre"]'
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rules[0]["operations"] == ["CREATE", "UPDATE"] and rules[0]["resources"] == ["tenants"]
