"""Per-community grids and per-subdistrict assignment on Dask give the single process's results.

The reference county at small scale: ``gisgov grids`` and ``gisgov assign`` with
``workers=2`` (a dask.distributed LocalCluster of two processes) write the same grids, staff,
party organisations and assignment as ``workers=1`` (in this process, no Dask), which writes
what the library's single call (:func:`gisgov.grids.make_grids`) finds; the same runs on a
PostGIS workspace through a scheduler started outside gisgov (a TCP LocalCluster here);
an external scheduler with a GeoPackage is refused; and the job parameters of grids and
assign derive from one model each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from gisgov.assignment import write_assignment
from gisgov.assignment.options import AssignOptions
from gisgov.assignment.tasks import run_assign
from gisgov.distributed import SCHEDULER_ENV, Cluster
from gisgov.errors import ValidationError
from gisgov.grids import make_grids, write_grid_plan
from gisgov.grids.options import GridsOptions
from gisgov.grids.tasks import run_grids
from gisgov.store import open_workspace
from tests.conftest import NO_TIME_CAP

pytest.importorskip("distributed")

#: Figures of the assignment summary that must not depend on how the work was split.
SAME_FIGURES = ("households", "assigned", "unassigned", "members_used", "min_load", "max_load",
                "total_walk_m", "kin_honoured", "changed_from_previous", "optimal", "coverage",
                "deployed", "members", "members_eligible", "borrowed", "grids", "grids_short",
                "more_members_needed", "pairs", "objective")


def _grid_layers(ws):  # type: ignore[no-untyped-def]
    grids = ws.read("grids")
    return {
        "grids": pd.DataFrame({"code": grids["code"], "households": grids["households"],
                               "wkb": shapely.to_wkb(grids.geometry.to_numpy())}),
        "staff": pd.DataFrame(ws.read("staff").drop(columns="geometry", errors="ignore")),
        "branches": pd.DataFrame(ws.read("branches").drop(columns="geometry",
                                                          errors="ignore")),
        "members": pd.DataFrame(ws.read("members")[["id", "grid_code"]]),
    }


def _assignment(ws):  # type: ignore[no-untyped-def]
    a = ws.read("assignments")
    return pd.DataFrame(a[["household_id", "member_id", "grid_code", "walk_m", "reason"]])


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for name in a:
        pd.testing.assert_frame_equal(a[name].reset_index(drop=True),
                                      b[name].reset_index(drop=True), obj=name)


def _run(ws, workers: int, scheduler: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    plan = run_grids(ws, GridsOptions(time_limit=NO_TIME_CAP, workers=workers,
                                      scheduler=scheduler))
    write_grid_plan(ws, plan)
    result = run_assign(ws, AssignOptions(workers=workers, scheduler=scheduler))
    write_assignment(ws, result)
    return result.summary


@pytest.fixture(scope="module")
def single(county_gpkg_master: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The county gridded and assigned with ``workers=1``."""
    path = tmp_path_factory.mktemp("single") / "w1.gpkg"
    shutil.copyfile(county_gpkg_master, path)
    ws = open_workspace(path)
    summary = _run(ws, 1)
    yield ws, summary
    ws.close()


def test_workers_1_is_the_single_call(single, county_gpkg_master: Path) -> None:  # type: ignore[no-untyped-def]
    """Community by community in this process: the grids the whole-county call draws."""
    ws, _ = single
    src = open_workspace(county_gpkg_master)
    try:
        plan = make_grids(src.read_all(), crs=src.working_crs, seed=0, time_limit=NO_TIME_CAP)
    finally:
        src.close()
    got = ws.read("grids")
    assert list(got["code"]) == list(plan.grids["code"])
    assert list(got["households"]) == list(plan.grids["households"])
    assert shapely.equals_exact(got.geometry.to_numpy(), plan.grids.geometry.to_numpy(),
                                tolerance=1e-9).all()
    staff = ws.read("staff")
    assert list(staff["member_id"]) == list(plan.staff["member_id"])


def test_two_workers_give_the_same_grids_and_assignment(single, county_gpkg_master: Path,
                                                         tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws1, summary1 = single
    path = tmp_path / "w2.gpkg"
    shutil.copyfile(county_gpkg_master, path)
    ws2 = open_workspace(path)
    try:
        summary2 = _run(ws2, 2)
        _same(_grid_layers(ws1), _grid_layers(ws2))
        pd.testing.assert_frame_equal(_assignment(ws1), _assignment(ws2))
        assert {k: summary1[k] for k in SAME_FIGURES} == {k: summary2[k] for k in SAME_FIGURES}
        assert summary1["assigned"] > 0
    finally:
        ws2.close()


def test_external_scheduler_needs_postgis(county_gpkg: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    with pytest.raises(ValidationError, match="PostGIS"):
        Cluster.resolve(workers=1, scheduler="tcp://127.0.0.1:8786",
                        workspace_url=str(county_gpkg))
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:8786")
    with pytest.raises(ValidationError, match=SCHEDULER_ENV):
        Cluster.resolve(workers=1, scheduler=None, workspace_url=str(county_gpkg))
    exe = Path(sys.executable).parent / "gisgov"
    before = county_gpkg.read_bytes()
    bad = subprocess.run([str(exe), "grids", str(county_gpkg), "--scheduler",
                          "tcp://127.0.0.1:8786"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert bad.returncode == 2
    assert "PostGIS" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert county_gpkg.read_bytes() == before  # nothing changed


def test_one_worker_imports_no_dask(county_gpkg: Path) -> None:
    code = ("import sys; from gisgov.distributed import Cluster, run_tasks; "
            "out = list(run_tasks(abs, [-1, -2], cluster=Cluster(), name='t')); "
            "assert out == [(0, 1), (1, 2)], out; "
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_one_parameter_model_per_job() -> None:
    """The CLI flags, the job check and the API schema come from the same fields."""
    from typer.testing import CliRunner

    from api.jobs_routes import AssignParams, GridsParams
    from gisgov.cli import build_app

    for model, params, command in ((GridsOptions, GridsParams, "grids"),
                                   (AssignOptions, AssignParams, "assign")):
        names = [s.name for s in model.specs()]
        # the scheduler and the processes are the operator's (environment), never a request's
        assert list(params.model_fields) == [n for n in names
                                             if n not in ("scheduler", "workers")]
        help_text = CliRunner().invoke(build_app(), [command, "--help"],
                                       env={"COLUMNS": "200"}).output
        for spec in model.specs():
            assert spec.cli_flag.split("/")[0] in help_text, spec.cli_flag
    assert "--deploy-cap" in CliRunner().invoke(build_app(), ["assign", "--help"],
                                                env={"COLUMNS": "200"}).output
    with pytest.raises(ValidationError, match="min_load must not exceed max_load"):
        AssignOptions.from_mapping({"min_load": 8, "max_load": 6})
    with pytest.raises(ValidationError, match="workers must be >= 1"):
        GridsOptions.from_mapping({"workers": 0})
    with pytest.raises(ValidationError, match="unknown parameter"):
        GridsOptions.from_mapping({"target": 100})
    assert GridsParams().model_dump() == {k: v for k, v in GridsOptions().to_dict().items()
                                          if k not in ("scheduler", "workers")}


def test_postgis_through_an_external_tcp_scheduler(county_gpkg_master: Path, postgis_url: str,
                                                   tmp_path: Path) -> None:
    """A cluster started outside gisgov (TCP scheduler, two worker processes) runs grids and
    assign on a PostGIS workspace: the same results as one process on the GeoPackage."""
    from distributed import LocalCluster

    from gisgov.store.copy import copy_workspace

    local = tmp_path / "w1.gpkg"
    shutil.copyfile(county_gpkg_master, local)
    # its own schema, dropped after: layers left in the session database's public schema
    # would show through the search_path of the store tests' per-test schemas
    schema = f"dist_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    pg = open_workspace(f"{postgis_url}?options={quote(f'-csearch_path={schema},public')}",
                        create=True)
    src = open_workspace(county_gpkg_master)
    ws1 = open_workspace(local)
    try:
        copy_workspace(src, pg)
        with LocalCluster(protocol="tcp", n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            summary = _run(pg, 1, scheduler=cluster.scheduler_address)
        single = _run(ws1, 1)
        _same(_grid_layers(ws1), _grid_layers(pg))
        pd.testing.assert_frame_equal(_assignment(ws1), _assignment(pg))
        assert {k: summary[k] for k in SAME_FIGURES} == {k: single[k] for k in SAME_FIGURES}
        assert np.all(pg.read("grids")["households"] > 0)
    finally:
        ws1.close()
        src.close()
        pg.close()
        with psycopg.connect(postgis_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_local_cluster_runs_without_dask_monitoring() -> None:
    """A local cluster's workers run with Dask's profiler off and its ticks slowed
    (:data:`gisgov.distributed.LOCAL_CONFIG`), and this process's own settings are left as
    they were; the session stops the cluster when asked to wait."""
    import dask

    from gisgov.distributed import LOCAL_CONFIG, Session

    before = dask.config.get("distributed.worker.profile.enabled")
    session = Session(Cluster(workers=2)).open()
    try:
        seen = session.client().run(lambda: {k: dask.config.get(k) for k in LOCAL_CONFIG})
    finally:
        session.wait()
    assert len(seen) == 2
    assert all(v == LOCAL_CONFIG for v in seen.values())
    assert dask.config.get("distributed.worker.profile.enabled") == before
    assert session._stopping is not None
    assert not session._stopping.is_alive()
