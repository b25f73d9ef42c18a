"""Jobs: ``POST /jobs/{kind}`` → 202 and a job id; ``GET /jobs/{id}`` → status and results.

Jobs run in :class:`gisgov.jobs.JobRunner`'s worker thread, never in the request handler.
Their results are layers or product tables, linked as collections (read through the one
policy of :mod:`gisgov.policy`, like every collection).

Who may start what: jobs that replace layers (``grids``, ``assign``, ``redistrict`` with
``apply: true``) need the planner role; coordinators may start a ``redistrict`` that only
stores a scenario. Each key may have at most ``job_quota`` jobs queued or running (429
beyond). The body must be a JSON object (or absent, for the defaults): ``null``, a list or a
number is a 422. Non-planners see only their own jobs.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import base_url, get_principal, get_state, reject_unknown_query, require_writer
from api.errors import ApiProblemError, RateLimitedError
from gisgov.errors import GisgovError, NotFoundError, PermissionDeniedError
from gisgov.jobs import Job
from gisgov.privacy import Principal

__all__ = ["AssignParams", "GridsParams", "RedistrictParams", "router"]

async def _object_body(request: Request) -> None:
    """A body, when sent, must be a JSON object: ``null`` must not start a default job."""
    if request.method != "POST":
        return
    raw = await request.body()
    if not raw.strip():
        return
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return  # FastAPI's own validation answers malformed JSON with a 422
    if not isinstance(doc, dict):
        raise ApiProblemError(422, "the body must be a JSON object of job parameters (or "
                              f"empty for the defaults), not {type(doc).__name__ if doc is not None else 'null'}",
                              type_name="ValidationError")


router = APIRouter(dependencies=[Depends(reject_unknown_query), Depends(get_principal),
                                 Depends(_object_body)],
                   tags=["Jobs 任务"])
_quota_lock = threading.Lock()


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _model_from(cls: Any, name: str, doc: str, base: type[_Params]) -> type[_Params]:
    """A request model derived from a job's options dataclass (:mod:`gisgov.options`): the
    same names, types, defaults, bounds and help as the command's flags."""
    from typing import Literal

    from pydantic import create_model

    fields: dict[str, Any] = {}
    for spec in cls.specs():
        if not spec.api:
            continue
        tp: Any = spec.type
        if spec.choices:
            tp = Literal[spec.choices]  # type: ignore[valid-type]
        fields[spec.name] = (tp, Field(spec.default, description=spec.help, ge=spec.ge,
                                       le=spec.le, gt=spec.gt, pattern=spec.pattern,
                                       max_length=spec.max_length))
    return create_model(name, __base__=base, __doc__=doc,  # type: ignore[call-overload,no-any-return]
                        **fields)


class _OptionsBase(_Params):
    """Cross-field checks of the options model at the request (a 4xx problem), not later in
    the job thread."""

    _options: ClassVar[Any] = None

    @model_validator(mode="after")
    def _options_valid(self) -> _OptionsBase:
        try:
            self._options(**self.model_dump()).validate()
        except GisgovError as exc:
            raise ValueError(str(exc)) from None
        return self


if TYPE_CHECKING:  # the checker sees the shared fields through the options dataclasses
    class RedistrictParams(_OptionsBase):
        apply: bool

    class GridsParams(_OptionsBase):
        pass

    class AssignParams(_OptionsBase):
        pass
else:
    from gisgov.assignment.options import AssignOptions
    from gisgov.districting.options import RedistrictOptions
    from gisgov.grids.options import GridsOptions

    def _base(cls: Any) -> type[_OptionsBase]:
        return type(f"_{cls.__name__}Base", (_OptionsBase,),
                    {"_options": cls, "__module__": __name__})

    RedistrictParams = _model_from(
        RedistrictOptions, "RedistrictParams", "Re-draw communities (``gisgov redistrict``) "
        "into a stored scenario; every option of the command, same names and defaults.",
        _base(RedistrictOptions))
    GridsParams = _model_from(
        GridsOptions, "GridsParams", "Partition communities into grids with staff (``gisgov "
        "grids``); every option of the command, same names and defaults.", _base(GridsOptions))
    AssignParams = _model_from(
        AssignOptions, "AssignParams", "Assign every household a red-grid member (``gisgov "
        "assign``); every option of the command, same names and defaults.",
        _base(AssignOptions))


def _job_doc(request: Request, job: Job) -> dict[str, Any]:
    base = base_url(request)
    doc = job.to_dict()
    doc["links"] = [
        {"rel": "self", "type": "application/json", "href": f"{base}/jobs/{job.id}"},
        *({"rel": "results", "type": "application/json", "title": table,
           "href": f"{base}/collections/{table}"} for table in doc["tables"]),
    ]
    return doc


def _submit(request: Request, kind: str, params: _Params | None, principal: Principal, *,
            changes_layers: bool) -> JSONResponse:
    state = get_state(request)
    if changes_layers and not principal.can_change_layers:
        raise PermissionDeniedError(
            f"this {kind} job replaces layers and needs the planner role; this key has role "
            f"{principal.role}" + (" (a redistrict without apply stores a scenario only)"
                                   if kind == "redistrict" else ""))
    values = {} if params is None else params.model_dump(exclude_none=True)
    quota = state.settings.job_quota
    with _quota_lock:
        active = sum(1 for j in state.jobs.list()
                     if j.actor == principal.actor and j.status in ("queued", "running"))
        if active >= quota:
            raise RateLimitedError(f"this key already has {active} job(s) queued or running; "
                                   f"at most {quota} at a time: wait for one to finish",
                                   retry_after=5.0)
        job = state.jobs.submit(kind, values, actor=principal.actor)
    doc = _job_doc(request, job)
    return JSONResponse(doc, status_code=202, headers={"Location": doc["links"][0]["href"]})


def _own(principal: Principal, job: Job) -> bool:
    """Planners see every job; other roles the jobs their key started."""
    return principal.role == "planner" or job.actor == principal.actor


_202: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted: the job is queued; poll the Location"},
    403: {"description": "The key's role may not start this job (layer changes: planner)"},
    422: {"description": "The body is not a JSON object of parameters"},
    429: {"description": "The key already has its quota of queued or running jobs"},
}


@router.post("/jobs/redistrict", status_code=202, responses=_202,
             summary="Re-draw communities 社区边界优化")
def post_redistrict(
    request: Request,
    params: RedistrictParams | None = Body(None),
    principal: Principal = Depends(require_writer),
) -> JSONResponse:
    """Start a community re-drawing job (planner or coordinator; ``apply`` needs planner)."""
    return _submit(request, "redistrict", params, principal,
                   changes_layers=bool(params is not None and params.apply))


@router.post("/jobs/grids", status_code=202, responses=_202, summary="Draw grids 网格划分")
def post_grids(
    request: Request,
    params: GridsParams | None = Body(None),
    principal: Principal = Depends(require_writer),
) -> JSONResponse:
    """Start a grid partitioning job (planner: it replaces the grids and staff layers)."""
    return _submit(request, "grids", params, principal, changes_layers=True)


@router.post("/jobs/assign", status_code=202, responses=_202,
             summary="Assign red-grid members 红色网格员联户")
def post_assign(
    request: Request,
    params: AssignParams | None = Body(None),
    principal: Principal = Depends(require_writer),
) -> JSONResponse:
    """Start a red-grid member assignment job (planner: it replaces the assignments layer)."""
    return _submit(request, "assign", params, principal, changes_layers=True)


@router.get("/jobs", summary="Jobs of this service 任务列表")
def list_jobs(request: Request, principal: Principal = Depends(require_writer)) -> JSONResponse:
    """Jobs started since the service started, newest first."""
    state = get_state(request)
    return JSONResponse({"kinds": state.jobs.kinds(),
                         "jobs": [_job_doc(request, j) for j in state.jobs.list()
                                  if _own(principal, j)]})


@router.get("/jobs/{jobId}", summary="Job status 任务状态")
def get_job(
    request: Request,
    job_id: str = Path(..., alias="jobId", max_length=64),
    principal: Principal = Depends(require_writer),
) -> JSONResponse:
    """Status, progress (0–1), message, and links to the results when it succeeded."""
    job = get_state(request).jobs.get(job_id)
    if not _own(principal, job):
        raise NotFoundError(f"no job {job_id!r} of this key; see /jobs")
    return JSONResponse(_job_doc(request, job))
