"""Generate the CustomResourceDefinitions from the pydantic models.

The models are the single source of truth; this module turns their JSON Schema into a
Kubernetes *structural* schema: ``$ref`` inlined, ``anyOf [X, null]`` turned into
``nullable``, ``additionalProperties: false`` dropped (the apiserver prunes unknown fields;
the CRD rejects them on ``kubectl apply --validate=strict`` and server-side apply), and
``patternProperties`` turned into ``additionalProperties`` plus a CEL rule on the keys.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from tenant_operator.api import datarequest, subprocessor, tenant
from tenant_operator.api.common import GROUP, VERSION
from tenant_operator.domain import naming
from tenant_operator.domain.reserved import NameContext, reserved_slugs
from tenant_operator.domain.vocabulary import ConditionType

Schema = dict[str, Any]

_DROP = {"title", "additionalProperties", "patternProperties", "propertyNames"}


def structural(node: Any, defs: Mapping[str, Any]) -> Any:
    """Return ``node`` rewritten as a structural schema (pure, recursive)."""
    if isinstance(node, list):
        return [structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return structural(merged, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o != {"type": "null"}]
        if len(options) != 1:
            raise ValueError(f"cannot express anyOf {node['anyOf']!r} structurally")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if rest.get("default", "unset") is None:
            del rest["default"]
        merged = structural({**options[0], **rest}, defs)
        merged["nullable"] = True
        return merged
    out: Schema = {}
    for key, value in node.items():
        if key in _DROP or key == "$defs":
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        else:
            out[key] = structural(value, defs)
    if "patternProperties" in node:
        ((pattern, values),) = node["patternProperties"].items()
        out["additionalProperties"] = structural(values, defs)
        limit = node.get("propertyNames", {}).get("maxLength", naming.LABEL_MAX_LENGTH)
        rules = out.setdefault("x-kubernetes-validations", [])
        rules.append(
            {
                "rule": f"self.all(k, k.matches({_cel_string(pattern)}) && size(k) <= {limit})",
                "message": f"keys must match {pattern} and be at most {limit} characters",
            }
        )
    elif node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(node["additionalProperties"], defs)
    if out.get("default", "unset") is None:
        del out["default"]
    return out


def _cel_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _section(model: type[BaseModel], field: str) -> Schema:
    schema = model.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    prop = schema["properties"][field]
    result: Schema = structural(prop, defs)
    result.pop("nullable", None)
    return result


def reserved_name_rule(contexts: list[NameContext]) -> Schema:
    """A CEL rule refusing, at creation only, the slugs the ``contexts`` reserve.

    ``optionalOldSelf``: on an update ``oldSelf`` has a value and the rule holds, so a
    Tenant admitted before the rule existed can still be updated, finalized and deleted.
    """
    reserved: dict[str, str] = {}
    for ctx in contexts:
        reserved.update(reserved_slugs(ctx))
    names = ", ".join(_cel_string(slug) for slug in sorted(reserved))
    messages = ", ".join(
        f"{_cel_string(slug)}: {_cel_string(message)}" for slug, message in sorted(reserved.items())
    )
    return {
        "rule": f"oldSelf.hasValue() || !(self.metadata.name in [{names}])",
        "optionalOldSelf": True,
        "messageExpression": f"{{{messages}}}[self.metadata.name]",
        "fieldPath": ".metadata.name",
        "reason": "FieldValueForbidden",
    }


def build_crd(
    model: type[BaseModel],
    *,
    kind: str,
    plural: str,
    short_names: list[str],
    name_max_length: int,
    printer_columns: list[dict[str, Any]],
    rules: list[Schema] | None = None,
) -> Schema:
    """The CRD of ``model``: cluster-scoped, status subresource, printer columns."""
    name_schema = {"type": "string", "maxLength": name_max_length, "pattern": naming.SLUG_PATTERN}
    openapi: Schema = {
        "type": "object",
        "description": (model.__doc__ or "").strip(),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object", "properties": {"name": name_schema}},
            "spec": _section(model, "spec"),
            "status": _section(model, "status"),
        },
    }
    if rules:
        openapi["x-kubernetes-validations"] = rules
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": ["integraci"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns,
                    "schema": {"openAPIV3Schema": openapi},
                }
            ],
        },
    }


def _condition_column(type_: ConditionType) -> dict[str, Any]:
    name = type_.value  # plain str: yaml.safe_dump cannot write an enum
    return {
        "name": name,
        "type": "string",
        "jsonPath": f'.status.conditions[?(@.type=="{name}")].status',
    }


def _ready_column() -> list[dict[str, Any]]:
    ready = ConditionType.READY.value  # plain str: yaml.safe_dump cannot write an enum
    return [
        {
            "name": ready,
            "type": "string",
            "jsonPath": f'.status.conditions[?(@.type=="{ready}")].status',
        },
        {
            "name": "Reason",
            "type": "string",
            "jsonPath": f'.status.conditions[?(@.type=="{ready}")].reason',
            "priority": 1,
        },
    ]


def render_crds() -> dict[str, Schema]:
    """Every CRD of the operator, keyed by file name."""
    age = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    tenants = build_crd(
        tenant.Tenant,
        kind=tenant.KIND,
        plural=tenant.PLURAL,
        short_names=["tnt"],
        name_max_length=naming.SLUG_MAX_LENGTH,
        printer_columns=[
            {"name": "Plan", "type": "string", "jsonPath": ".spec.plan"},
            {"name": "Isolation", "type": "string", "jsonPath": ".status.database.isolation"},
            *_ready_column(),
            age,
        ],
        # The static part of the reserved slugs: OpenBao's names and those the default
        # settings derive (either layout); the chart's ValidatingAdmissionPolicy adds the
        # ones of an install's values, and the operator refuses any it finds at run time.
        rules=[reserved_name_rule([NameContext(layout="namespace"), NameContext(layout="mount")])],
    )
    subprocessors = build_crd(
        subprocessor.SubProcessor,
        kind=subprocessor.KIND,
        plural=subprocessor.PLURAL,
        short_names=["subproc"],
        name_max_length=naming.LABEL_MAX_LENGTH,
        printer_columns=[
            {"name": "Purpose", "type": "string", "jsonPath": ".spec.purpose"},
            {"name": "Notice", "type": "integer", "jsonPath": ".spec.noticeDays"},
            *_ready_column(),
            age,
        ],
    )
    requests = build_crd(
        datarequest.TenantDataRequest,
        kind=datarequest.KIND,
        plural=datarequest.PLURAL,
        short_names=["tdr"],
        name_max_length=naming.LABEL_MAX_LENGTH,
        printer_columns=[
            {"name": "Tenant", "type": "string", "jsonPath": ".spec.tenant"},
            {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
            _condition_column(ConditionType.COMPLETED),
            {"name": "Due", "type": "date", "jsonPath": ".status.dueAt"},
            *_ready_column(),
            age,
        ],
    )
    return {
        f"{tenant.PLURAL}.{GROUP}.yaml": tenants,
        f"{subprocessor.PLURAL}.{GROUP}.yaml": subprocessors,
        f"{datarequest.PLURAL}.{GROUP}.yaml": requests,
    }


def to_yaml(crd: Schema) -> str:
    header = "# Generated by `tenant-operator crds` from tenant_operator.api; do not edit.\n"
    return header + yaml.safe_dump(crd, sort_keys=False, width=100, allow_unicode=True)


def write_crds(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, crd in render_crds().items():
        path = directory / name
        path.write_text(to_yaml(crd))
        written.append(path)
    return written


def stale_crds(directory: Path) -> list[str]:
    """Names of CRD files in ``directory`` that differ from what the models generate."""
    stale = []
    for name, crd in render_crds().items():
        path = directory / name
        if not path.exists() or path.read_text() != to_yaml(crd):
            stale.append(name)
    return stale
