"""The wire-level ListTasks → DescribeTasks layer under `iter_tasks` and `watch_tasks`.

Both streams list task ARNs page by page and describe them 100 at a time; what they share is
here, once: which clusters a selection means (`"*"`: every cluster, listed with ListClusters),
the ListTasks parameters, each ARN once, the DescribeTasks batches, and what one
DescribeTasks answer holds (each requested task once; a failure, ECS's or `NOT_RETURNED`, for
every requested ARN it did not describe). Calls go through a `Call` the stream hands in, so
each stream keeps its own retries and counts; answers stay raw JSON until the consumer
decodes them, one task at a time.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import _protocol, serde
from ._decoding import collected_after
from ._digests import DigestSet
from ._exceptions import CallError
from ._limits import DESCRIBE_TASKS_MAX
from ._paginate import token_chain, wire_token

if TYPE_CHECKING:
    from . import models

# One call in wire form: operation, encoded parameters -> parsed JSON answer.
Call = Callable[[str, dict[str, Any]], Awaitable[Any]]
T = TypeVar("T")

# ListClusters returns at most 100 per page.
_CLUSTER_PAGE = 100


def selected_clusters(
    cluster: str | None, clusters: Sequence[str] | Literal["*"] | None
) -> list[str] | None:
    """The clusters to list, each once; None means every cluster (`"*"`), listed anew by each
    stream or sweep so that new clusters are picked up."""
    if cluster is not None and clusters is not None:
        raise ValueError("pass cluster or clusters, not both")
    if clusters == "*":
        return None
    if clusters is not None:
        return [clusters] if isinstance(clusters, str) else list(dict.fromkeys(clusters))
    return [cluster or "default"]


def list_params(filters: dict[str, Any]) -> dict[str, Any]:
    """ListTasks' filters (snake_case keyword arguments) checked and encoded, once per stream."""
    from . import models
    from ._validate import validate

    request = serde.build_request("ListTasks", models.ListTasksRequest, filters)
    validate("ListTasks", request)
    params: dict[str, Any] = serde.encode(request)
    return params


async def every_cluster(call: Call) -> AsyncIterator[str]:
    """The ARN of every cluster of the account and Region (ListClusters, page by page)."""

    def list_clusters(token: str | None) -> Awaitable[Any]:
        params: dict[str, Any] = {"maxResults": _CLUSTER_PAGE}
        if token:
            params["nextToken"] = token
        return call("ListClusters", params)

    async for page in token_chain(list_clusters, wire_token):
        for arn in page.get("clusterArns") or ():
            yield arn


def new_arns(page: Any, seen: set[str] | DigestSet) -> list[str]:
    """The ARNs of one ListTasks page not in `seen`, each once (ECS may repeat one within a
    page, or across pages while tasks come and go); they are added to `seen`. A stream that
    only needs to know whether it listed an ARN keeps a `DigestSet` (20 bytes an ARN, not
    170), whose `add` says so at the cost of one digest."""
    listed = page.get("taskArns") or ()
    if isinstance(seen, DigestSet):
        return [arn for arn in listed if seen.add(arn)]
    fresh = [arn for arn in dict.fromkeys(listed) if arn not in seen]
    seen.update(fresh)
    return fresh


def batches(arns: Sequence[str]) -> Iterator[list[str]]:
    """DescribeTasks takes at most 100 ARNs per call."""
    for start in range(0, len(arns), DESCRIBE_TASKS_MAX):
        yield list(arns[start : start + DESCRIBE_TASKS_MAX])


def describe_params(cluster: str, arns: list[str], include: list[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"cluster": cluster, "tasks": arns}
    if include:
        params["include"] = include
    return params


def answered_tasks(data: Any) -> list[Any]:
    """The raw tasks of a DescribeTasks answer (`null` or a missing member: none)."""
    return list(_member(data, "tasks"))


def task_arn(raw: Any) -> Any:
    return raw.get("taskArn") if isinstance(raw, dict) else None


def account(arns: list[str], data: Any) -> tuple[list[Any], list[models.Failure]]:
    """What one DescribeTasks answer says about the ARNs it was asked for: each requested task
    once (even if ECS repeats one); ECS's failures, except for a task it also returned; and
    `NOT_RETURNED` for each requested ARN it answered neither way."""
    wanted = set(arns)
    tasks = []
    for raw in answered_tasks(data):
        arn = task_arn(raw)
        if arn in wanted:
            wanted.discard(arn)
            tasks.append(raw)
    returned = {task_arn(raw) for raw in tasks}
    failures = []
    for raw in _member(data, "failures"):
        failure = decoded(decode_failure, raw)
        if failure.arn not in returned:
            wanted.discard(failure.arn or "")
            failures.append(failure)
    failures.extend(not_described(arn, "DescribeTasks omitted it") for arn in sorted(wanted))
    return tasks, failures


def not_described(arn: str, detail: str, reason: str = "NOT_RETURNED") -> models.Failure:
    from . import models

    return models.Failure(arn=arn, reason=reason, detail=detail)


def cluster_gone(error: CallError) -> bool:
    """Whether a call failed because its cluster does not exist (any more)."""
    return error.code == "ClusterNotFoundException"


def gone_with_cluster(arn: str, cluster: str) -> models.Failure:
    """The failure of a task whose cluster was deleted: ECS describes nothing in it any more."""
    return not_described(arn, f"cluster {cluster} not found (deleted)", reason="MISSING")


@functools.cache
def task_decoder() -> Callable[[Any], models.Task]:
    """The Task decoder, built once per process (tens of ms: model classes, cattrs code)."""
    from . import models

    return serde.decoder(models.Task)


def decode_failure(raw: Any) -> models.Failure:
    from . import models

    return serde.decode(models.Failure, raw)


def decoded(decode: Callable[[Any], T], raw: Any, what: str = "DescribeTasks answer") -> T:
    """A model from one element of a DescribeTasks answer. One that does not fit the model is
    a `ResponseError` naming the task's ARN, so the task at fault can be found."""
    try:
        return decode(raw)
    except Exception as exc:
        arn = raw.get("taskArn", raw.get("arn")) if isinstance(raw, dict) else None
        named = f"{what} for {arn}" if isinstance(arn, str) else what
        raise _protocol.not_the_model(named, exc) from exc


def decoded_page(decode: Callable[[Any], T], raws: list[Any]) -> Iterator[T]:
    """Each element of a DescribeTasks answer as a model (see `decoded`), decoded with the
    cyclic collector held off: a page is thousands of fresh objects and no cycle, which
    young-generation collections would otherwise scan mid-decode (see `collected_after`).
    The models before one that does not fit the model come out before its error."""
    done: list[T] = []
    error: Exception | None = None
    try:
        collected_after(lambda page: done.extend(decoded(decode, raw) for raw in page), raws)
    except Exception as exc:
        error = exc
    yield from done
    if error is not None:
        raise error


def _member(data: Any, name: str) -> list[Any]:
    value = data.get(name) if isinstance(data, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise _protocol.not_the_model(f"DescribeTasks answer's {name}", TypeError(name))
    return value
