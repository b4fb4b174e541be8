"""RegisterContainerInstance."""

from __future__ import annotations

import json

from ._encoding import JSON
from ._errors import invalid
from ._members import string, structure, structure_list, tag_list
from ._model import EcsModel


def register_container_instance(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    doc: JSON = {}
    raw_doc = string(p, "instanceIdentityDocument")
    if raw_doc:
        try:
            parsed = json.loads(raw_doc)
        except ValueError:
            raise invalid("instanceIdentityDocument is not valid JSON.") from None
        doc = parsed if isinstance(parsed, dict) else {}
    ci = state.add_container_instance(
        cluster,
        ec2_instance_id=doc.get("instanceId"),
        availability_zone=doc.get("availabilityZone"),
        resources=structure_list(p, "totalResources") or None,
        attributes=structure_list(p, "attributes") or None,
        version_info=structure(p, "versionInfo") or None,
        tags=tag_list(p),
    )
    return {"containerInstance": ci.wire()}
