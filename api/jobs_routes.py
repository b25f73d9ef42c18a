"""Jobs: ``POST /jobs/{kind}`` → 202 and a job id; ``GET /jobs/{id}`` → status and results.

Jobs run in :class:`gisgov.jobs.JobRunner`'s worker thread, never in the request handler.
Their results are layers or product tables, linked as collections.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import base_url, get_principal, get_state, reject_unknown_query, require_writer
from gisgov.districting.objective import objective_from_text
from gisgov.errors import GisgovError
from gisgov.jobs import Job
from gisgov.privacy import Principal

__all__ = ["AssignParams", "GridsParams", "RedistrictParams", "router"]

router = APIRouter(dependencies=[Depends(reject_unknown_query), Depends(get_principal)],
                   tags=["Jobs 任务"])


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RedistrictParams(_Params):
    """Re-draw communities (``gisgov redistrict``) into a stored scenario."""

    communities: str = Field("urban", max_length=2000,
                             description="Communities to re-draw: urban | all | CODE,CODE…")
    areas: int | None = Field(None, ge=1, le=1000, description="Number of communities")
    target_households: float | None = Field(None, gt=0, le=1e7,
                                            description="Households per community (sets K)")
    tolerance: float = Field(0.10, ge=0, le=1, description="Balance tolerance (±share)")
    seed: int = Field(0, ge=0, le=2**31, description="Random seed")
    time_limit: float = Field(60.0, ge=1, le=3600, description="Seconds")
    scenario: str | None = Field(None, max_length=60, pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
                                 description="Scenario name (default job_<id>)")
    apply: bool = Field(False, description="Accept the plan: replace the communities layer")
    weights: str | None = Field(
        None, max_length=300,
        description="Objective weights NAME=VALUE,… (cut_edges, cut_length, main_streets, "
                    "disruption, polsby_popper) over the community defaults")

    @field_validator("weights")
    @classmethod
    def _weights_parse(cls, value: str | None) -> str | None:
        # refused at the request (400 problem+json), not later in the job thread
        if value is not None:
            try:
                objective_from_text(value)
            except GisgovError as exc:
                raise ValueError(str(exc)) from None
        return value


class GridsParams(_Params):
    """Partition communities into grids with staff (``gisgov grids``)."""

    target_households: int = Field(100, ge=30, le=1000, description="Households per grid")
    communities: str | None = Field(None, max_length=2000,
                                    description="all | urban | CODE,CODE…")
    seed: int = Field(0, ge=0, le=2**31, description="Random seed")
    time_limit: float = Field(60.0, ge=1, le=3600, description="Seconds")


class AssignParams(_Params):
    """Assign every household a red-grid member (``gisgov assign``)."""

    min_load: int = Field(5, ge=0, le=100, description="Fewest households per member")
    max_load: int = Field(10, ge=1, le=100, description="Most households per member")
    borrow: bool = Field(True, description="Grids short of members borrow from neighbours")
    borrow_cost: float = Field(500.0, ge=0, le=1e5, description="Metres charged per loan")
    change_penalty: float = Field(300.0, ge=0, le=1e5, description="Metres per change")
    fresh: bool = Field(False, description="Ignore the previous assignment")
    scope: Literal["grid", "community", "subdistrict"] = Field(
        "subdistrict", description="Where reporting members may serve (统筹调配)")
    deploy_cap_m: float = Field(3000.0, ge=1, le=50_000, description="Deployment walk cap (m)")


def _job_doc(request: Request, job: Job) -> dict[str, Any]:
    base = base_url(request)
    doc = job.to_dict()
    doc["links"] = [
        {"rel": "self", "type": "application/json", "href": f"{base}/jobs/{job.id}"},
        *({"rel": "results", "type": "application/json", "title": table,
           "href": f"{base}/collections/{table}"} for table in doc["tables"]),
    ]
    return doc


def _submit(request: Request, kind: str, params: _Params | None, principal: Principal
            ) -> JSONResponse:
    state = get_state(request)
    values = {} if params is None else params.model_dump(exclude_none=True)
    job = state.jobs.submit(kind, values, actor=principal.actor)
    doc = _job_doc(request, job)
    return JSONResponse(doc, status_code=202, headers={"Location": doc["links"][0]["href"]})


_202: dict[int | str, dict[str, Any]] = {202: {"description": "Accepted: the job is queued; poll the Location"}}


@router.post("/jobs/redistrict", status_code=202, responses=_202,
             summary="Re-draw communities 社区边界优化")
def post_redistrict(
    request: Request,
    params: RedistrictParams | None = Body(None),
    principal: Principal = Depends(require_writer),
) -> JSONResponse:
    """Start a community re-drawing job (planner or coordinator)."""
    return _submit(request, "redistrict", params, principal)


@router.post("/jobs/grids", status_code=202, responses=_202, summary="Draw grids 网格划分")
def post_grids(
    request: Request,
    params: GridsParams | None = Body(None),
    principal: Principal = Depends(require_writer),
) -> JSONResponse:
    """Start a grid partitioning job (planner or coordinator)."""
    return _submit(request, "grids", params, principal)


@router.post("/jobs/assign", status_code=202, responses=_202,
             summary="Assign red-grid members 红色网格员联户")
def post_assign(
    request: Request,
    params: AssignParams | None = Body(None),
    principal: Principal = Depends(require_writer),
) -> JSONResponse:
    """Start a red-grid member assignment job (planner or coordinator)."""
    return _submit(request, "assign", params, principal)


@router.get("/jobs", summary="Jobs of this service 任务列表")
def list_jobs(request: Request, principal: Principal = Depends(require_writer)) -> JSONResponse:
    """Jobs started since the service started, newest first."""
    state = get_state(request)
    return JSONResponse({"kinds": state.jobs.kinds(),
                         "jobs": [_job_doc(request, j) for j in state.jobs.list()]})


@router.get("/jobs/{jobId}", summary="Job status 任务状态")
def get_job(
    request: Request,
    job_id: str = Path(..., alias="jobId", max_length=64),
    principal: Principal = Depends(require_writer),
) -> JSONResponse:
    """Status, progress (0–1), message, and links to the results when it succeeded."""
    return JSONResponse(_job_doc(request, get_state(request).jobs.get(job_id)))
