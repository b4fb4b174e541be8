"""CreateCluster, ListClusters, DescribeClusters, DeleteCluster."""

from __future__ import annotations

from ._encoding import JSON
from ._errors import ErrorAnswer, enum_error, invalid
from ._members import (
    MAX_DESCRIBE,
    NAME_RE,
    decode_token,
    encode_token,
    page_size,
    string,
    string_list,
    structure_list,
    tag_list,
)
from ._model import EcsModel
from ._records import STOPPED


def create_cluster(state: EcsModel, p: JSON) -> JSON:
    name = string(p, "clusterName") or "default"
    if not NAME_RE.match(name):
        raise invalid(
            "Cluster name can have up to 255 letters (uppercase and lowercase), numbers, "
            "hyphens, and underscores."
        )
    state.inactive_clusters.pop(name, None)  # a name is free again once its cluster is deleted
    cluster = state.add_cluster(name, tag_list(p), structure_list(p, "settings") or None)
    return {"cluster": cluster.wire({"TAGS", "SETTINGS"})}


def list_clusters(state: EcsModel, p: JSON) -> JSON:
    size = page_size(p)
    after = decode_token("clusters", string(p, "nextToken"))
    ordered = [c for c in state.clusters.values() if after is None or c.seq > after]
    page = ordered[:size]
    out: JSON = {"clusterArns": [c.arn for c in page]}
    if len(ordered) > size:
        out["nextToken"] = encode_token("clusters", page[-1].seq)
    return out


def describe_clusters(state: EcsModel, p: JSON) -> JSON:
    include = set(string_list(p, "include"))
    allowed = ("ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS")
    unknown = include - set(allowed)
    if unknown:
        raise enum_error("include", unknown.pop(), allowed)
    refs = string_list(p, "clusters") or ["default"]
    if len(refs) > MAX_DESCRIBE:
        raise invalid("Clusters cannot have more than 100 elements.")
    clusters, failures = [], []
    for ref in refs:
        try:
            clusters.append(state.cluster(ref).wire(include))
        except ErrorAnswer:
            gone = state.inactive_clusters.get(ref.rsplit("/", 1)[-1])
            if gone is not None and ref in (gone.name, gone.arn):
                clusters.append({**gone.wire(include), "status": "INACTIVE"})
                continue
            arn = ref if ref.startswith("arn:") else f"{state.prefix}cluster/{ref}"
            failures.append({"arn": arn, "reason": "MISSING"})
    return {"clusters": clusters, "failures": failures}


def delete_cluster(state: EcsModel, p: JSON) -> JSON:
    """As ECS: refused while anything is active in the cluster; the cluster then turns
    INACTIVE (DescribeClusters still shows it) and every other call gets ClusterNotFound."""
    cluster = state.cluster(string(p, "cluster"))
    if cluster.instances:
        raise ErrorAnswer(
            "ClusterContainsContainerInstancesException",
            "The Cluster cannot be deleted while Container Instances are active or draining.",
        )
    if cluster.services:
        raise ErrorAnswer(
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active.",
        )
    if any(t.cluster is cluster and t.last_status != STOPPED for t in state.tasks.values()):
        raise ErrorAnswer(
            "ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active."
        )
    del state.clusters[cluster.name]
    state.inactive_clusters[cluster.name] = cluster
    return {"cluster": {**cluster.wire(set()), "status": "INACTIVE"}}
