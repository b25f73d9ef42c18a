"""``partition``: the one districting engine, for communities and for grids alike.

Community re-drawing (units = compounds and street blocks, K ≈ 5) and grid partitioning
(units = buildings or building clusters of one community, K ≈ households / 100) are the same
problem: split a contiguous set of weighted polygons into K contiguous areas within a balance
tolerance, keeping locked units in place, staying inside containment groups, and minimising
the :class:`~gisgov.districting.objective.Objective`. Only the units and targets differ.

How it works
------------
1. Validate and explain infeasibility up front (:class:`~gisgov.errors.InfeasibleError`).
2. Split the graph into independent *pieces*: connected components × containment groups; give
   each piece its number of areas (each piece must be balanced on its own).
3. Each piece: multi-start construction (the current plan, then region growing from spread
   seeds or recursive bisection) followed by simulated annealing (compiled, :mod:`._kernel`)
   over boundary-unit moves with a hardening balance
   penalty and a cheap local contiguity test; the best balanced plan then goes through short
   bursts of merge-split (recombination) steps — two adjacent areas merged and re-split at the
   best balanced cut of several spanning trees — each settled by a greedy clean-up
   (:mod:`._recom`). Small pieces can be solved exactly instead (``method="exact"``, SCIP
   with lazy contiguity cuts, the heuristic's plan as incumbent) or as a fallback when the heuristic finds no balanced plan
   (``method="auto"``).
2b. Components too light to be an area (weight under the lower bound) are bridged to their
   nearest unit first; a new town (``new_town``) founds the areas beyond the current ones.
4. Check the final plan with the constraint callables; never return a plan that violates them.

In the code: :func:`partition` turns its keywords into a :class:`PartitionSpec` (the request)
and runs steps that each take and return a :class:`PlanState`: :func:`setup` (steps 1, 2 and
2b), :func:`solve_piece` once per piece (step 3: :func:`_heuristic_piece` or
:func:`_exact_piece`) and :func:`_finish` (step 4). The heuristic's own steps —
:func:`~._search.construct`, :func:`~._search.anneal_starts`,
:func:`~._search.recombine_best` — take and return a :class:`~._search.PieceSearch`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgov.districting._search import SearchBudget, SearchResult, piece_search, search_piece
from gisgov.districting.exact import solve_exact
from gisgov.districting.graph import (
    UnitGraph,
    attach_light_components,
    bridge_components,
    graph_from_units,
)
from gisgov.districting.objective import (
    Objective,
    Plan,
    check_plan,
    contiguous,
    respects_locks,
    within_bounds,
)
from gisgov.districting.warmup import prepare_kernels
from gisgov.errors import InfeasibleError, ValidationError

__all__ = ["DEFAULT_STARTS", "EXACT_MAX_UNITS", "PartitionResult", "PartitionSpec", "PlanState",
           "default_recom_rounds", "partition", "restarts_for", "setup", "solve_piece"]

ProgressFn = Callable[[str, float], None]
Method = Literal["auto", "heuristic", "exact"]
Islands = Literal["separate", "bridge", "error"]

EXACT_MAX_UNITS = 150
"""Largest piece ``method="auto"`` hands to the MILP when the heuristic finds nothing."""

SA_ITERATIONS_PER_UNIT = 400
"""Default annealing proposals per unit and start (see ``iterations``)."""

DEFAULT_STARTS = 32
"""Constructions (each annealed) per piece. The annealing is compiled (:mod:`._kernel`) and
runs starts on two threads: a start on ~250 units costs ~40 ms, and the best of many starts
beats a few long ones (measured on the county at ±10%, cut edges first: 8 starts end at 73–74
cut edges, 32 at 71, 64 no better). At tight tolerances longer annealing pays too (±2%: 120
proposals per unit end at 75–77 cut edges, 400 at 75–76)."""


@dataclass
class PartitionResult:
    """A balanced, contiguous plan and how it was found.

    Attributes
    ----------
    labels
        Area id (``0..K-1``) per unit, indexed like the input units.
    k
        Number of areas.
    lower, upper
        The weight bounds every area satisfies.
    continues
        For each area id, the current-plan label it continues (``None`` for a new area).
    optimal
        ``True`` only when the *whole* objective is proven optimal: every piece solved to
        proven optimality by the MILP, with no Polsby-Popper term (the MILP does not model
        it) and no rounding of the costs. See ``proven`` for what was proven otherwise.
    gap
        Relative gap the MILP proved on the objective it solved (``0`` when proven optimal):
        the whole objective without a Polsby-Popper weight, the linear part with one (see
        ``proven``); ``nan`` only when the MILP did not solve every piece (the heuristic).
    objective
        Objective value (see :class:`Objective`).
    seconds
        Wall time.
    method
        ``heuristic``, ``exact`` or ``mixed``.
    report
        Human-readable notes: how the problem was split, bridges, fallbacks, time limits.
    founded
        Ids of new areas founded on a new town (``new_town``); they are new, whatever
        current households they hold.
    graph
        The unit graph used.
    linear_optimal
        Every piece's linear part (cut edges, cut length, main streets, disruption) proven
        optimal by the MILP, costs exact.
    linear_gap
        Bound on the relative gap of the linear part (``nan`` without the MILP).
    proven
        One sentence saying what was proven, for reports and the ``--json`` document.
    pp_weight
        The objective's Polsby-Popper weight (the term the MILP leaves out).
    """

    labels: pd.Series
    k: int
    lower: float
    upper: float
    continues: list[Hashable | None]
    optimal: bool
    gap: float
    objective: float
    seconds: float
    method: str
    graph: UnitGraph
    report: list[str] = field(default_factory=list)
    founded: list[int] = field(default_factory=list)
    linear_optimal: bool = False
    linear_gap: float = math.nan
    proven: str = "nothing: the heuristic search proves no optimality"
    pp_weight: float = 0.0

    @property
    def ideal(self) -> float:
        """The ideal area weight."""
        return (self.lower + self.upper) / 2.0

    def optimality(self) -> dict[str, object]:
        """What was proven, for the ``--json`` document and the job summary.

        ``optimal_for`` names the objective a proof covers: ``"full objective"``, or
        ``"linear part"`` when the objective has a Polsby-Popper term the MILP does not model
        (then ``optimal`` is false even when the linear part is proven). ``gap`` is the MILP's
        relative gap on what it solved — always a number once the MILP ran (``0`` when
        proven), ``None`` only for a heuristic plan, which has no bound.
        """
        ran_milp = not math.isnan(self.linear_gap)
        optimal_for = None
        if self.linear_optimal:
            optimal_for = "full objective" if self.optimal else "linear part"
        return {
            "optimal": self.optimal,
            "linear_optimal": self.linear_optimal,
            "optimal_for": optimal_for,
            "gap": float(self.linear_gap) if ran_milp else None,
            "gap_of": (("linear part" if self.pp_weight > 0 else "full objective")
                       if ran_milp else None),
            "proven": self.proven,
        }


def partition(
    units: gpd.GeoDataFrame,
    *,
    weight: str,
    areas: int | None = None,
    target: float | None = None,
    tolerance: float = 0.10,
    current: str | None = None,
    new_town: str | None = None,
    locks: Mapping[Hashable, Hashable] | None = None,
    groups: str | None = None,
    objective: Objective | None = None,
    method: Method = "auto",
    islands: Islands = "separate",
    main_streets: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    graph: UnitGraph | None = None,
    crs: object | None = None,
    seed: int = 0,
    starts: int | None = DEFAULT_STARTS,
    iterations: int | None = None,
    recom_rounds: int | None = None,
    time_limit: float = 60.0,
    progress: ProgressFn | None = None,
) -> PartitionResult:
    """Partition polygon units into ``K`` balanced, contiguous, compact areas.

    Parameters
    ----------
    units
        Polygon units with a CRS, one row per unit (never split).
    weight
        Column with the weight to balance (households; any non-negative number).
    areas
        Number of areas K. Give this or ``target``.
    target
        Target weight per area; ``K = max(1, round(total / target))``.
    tolerance
        Every area's weight within ``±tolerance`` of the ideal (``total / K``).
    current
        Column with each unit's current area (community code, grid code…); null for none.
        It is the first start of the search and the reference for the disruption term; areas
        that continue a current one keep its label in :attr:`PartitionResult.continues`.
    new_town
        Boolean column flagging the units of a planned new town. When ``K`` exceeds the number
        of current areas, the flagged units found the new area(s): each connected cluster of
        them (heaviest first) becomes the reference ("home") of one new area, so the first
        start grows the new area there and the disruption term keeps them together.
    locks
        ``{unit index value: area}``, the area being a current label or an area id ``0..K-1``.
    groups
        Column of containment groups (e.g. subdistrict code): no area mixes two groups.
    objective
        Objective weights; default :class:`Objective` (``disruption=0``).
    method
        ``heuristic``; ``exact``: the cut-set MILP in SCIP (:mod:`.exact`), warm-started by the
        heuristic's plan (measured: county maps of 78 units into 2–3 areas at ±0.5 % proven
        in under a minute; 4 areas end at the time limit with the gap reported); ``auto``: the heuristic, falling back to the
        MILP on small pieces where it finds no balanced plan.
    islands
        Disconnected units: ``separate`` gives each component its own areas (and explains when
        its weight cannot be split within tolerance) — except components lighter than one
        area's lower bound (an empty sliver or park cut off by a gap), which cannot be an area
        of their own and are joined to the component of their nearest unit by a bridge edge;
        ``bridge`` joins all components through their nearest units; ``error`` refuses.
        Always reported in :attr:`PartitionResult.report`.
    main_streets
        Main street lines, for the "boundaries along main streets" reward.
    graph
        A prebuilt :func:`graph_from_units` graph of ``units`` (reused across calls).
    crs
        Metric CRS for the graph (default: the units' UTM zone).
    seed
        Randomness; the same seed gives the same plan (unless ``time_limit`` cut the search
        short, which the report says).
    starts
        Constructions per piece, each annealed (the first from the current plan when given;
        default :data:`DEFAULT_STARTS`). ``None``: restarts sized from ``time_limit`` by
        :func:`restarts_for` — a count fixed by the units and the time limit, not the clock,
        so the same seed still gives the same plan.
    iterations
        Annealing proposals per start; default ``SA_ITERATIONS_PER_UNIT · n`` clipped to
        [20 000, 1 500 000]. Many short starts beat a few long ones: the plans' quality varies
        more between starting layouts than with longer annealing.
    recom_rounds
        Merge-split (recombination) steps per piece after the annealing; default
        :func:`default_recom_rounds`. ``0`` skips the phase.
    time_limit
        Seconds, a safety cap on the whole run, counted after the kernels are compiled or
        loaded (:func:`~gisgov.districting.warmup.prepare_kernels`).
    progress
        ``progress(description, fraction)`` callback.

    Returns
    -------
    PartitionResult

    Raises
    ------
    InfeasibleError
        When no plan can satisfy the constraints, with the reasons; or when none was found.
    ValidationError
        On bad options or columns.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = [shapely.box(x, y, x + 100, y + 100) for y in range(0, 400, 100)
    ...          for x in range(0, 400, 100)]
    >>> units = gpd.GeoDataFrame({"hh": [10] * 16}, geometry=cells, crs="EPSG:32650")
    >>> res = partition(units, weight="hh", areas=4, tolerance=0.0, seed=1)
    >>> sorted(res.labels.value_counts().tolist())
    [4, 4, 4, 4]
    """
    # Compile (or load) the kernels before the clock starts: the time limit is for searching,
    # and a first run's compilation must not eat it (see :mod:`.warmup`).
    prepare_kernels()
    spec = PartitionSpec(
        weight=weight, areas=areas, target=target, tolerance=tolerance, current=current,
        new_town=new_town, locks=locks, groups=groups, objective=objective or Objective(),
        method=method, islands=islands, main_streets=main_streets, graph=graph, crs=crs,
        seed=seed, starts=restarts_for(len(units), time_limit) if starts is None else starts,
        iterations=iterations, recom_rounds=recom_rounds, progress=progress,
    )
    t0 = time.monotonic()
    state = setup(units, spec, deadline=t0 + float(time_limit))
    for p in range(state.npieces):
        state = solve_piece(state, p)
    return _finish(state, started=t0)


@dataclass(frozen=True)
class PartitionSpec:
    """What :func:`partition` is asked, as one value: its keyword arguments (see there), with
    the objective and the number of starts resolved."""

    weight: str
    areas: int | None = None
    target: float | None = None
    tolerance: float = 0.10
    current: str | None = None
    new_town: str | None = None
    locks: Mapping[Hashable, Hashable] | None = None
    groups: str | None = None
    objective: Objective = field(default_factory=Objective)
    method: Method = "auto"
    islands: Islands = "separate"
    main_streets: gpd.GeoDataFrame | gpd.GeoSeries | None = None
    graph: UnitGraph | None = None
    crs: object | None = None
    seed: int = 0
    starts: int = DEFAULT_STARTS
    iterations: int | None = None
    recom_rounds: int | None = None
    progress: ProgressFn | None = None


@dataclass
class PlanState:
    """A partition in progress: the problem, set up once, and the plan the steps fill in.

    :func:`partition` is three steps over it, each taking and returning the state:
    :func:`setup` (validate, explain infeasibility, build and connect the graph, map the
    current plan, locks and new town to area ids, split into independent pieces),
    :func:`solve_piece` for every piece (the heuristic — construction, annealing,
    merge-split — or the exact MILP, see :func:`_heuristic_piece` and :func:`_exact_piece`),
    and :func:`_finish` (check the plan with the constraint callables, score it, say what was
    proven).

    Attributes
    ----------
    spec
        The request.
    units, w, k, lower, upper, slack
        The units, their weights, the number of areas and the weight bounds (``slack``
        absorbs float round-off in sums of weights).
    graph, xy
        The connected unit graph and the unit centroids in its CRS.
    home, locked
        Current-plan area and locked area per unit (``-1``: none).
    continues, founded
        Current label each area continues; areas founded on a new town.
    piece, npieces, area_ids
        Independent piece per unit, their number, and each piece's global area ids.
    labels
        The plan: area per unit, ``-1`` until its piece is solved.
    optimal, gap, used_exact, used_heur, timed_out
        What the steps proved and used, for :class:`PartitionResult`.
    """

    spec: PartitionSpec
    units: gpd.GeoDataFrame
    w: np.ndarray
    k: int
    lower: float
    upper: float
    slack: float
    graph: UnitGraph
    xy: np.ndarray
    home: np.ndarray
    locked: np.ndarray
    continues: list[Hashable | None]
    founded: list[int]
    piece: np.ndarray
    npieces: int
    area_ids: list[list[int]]
    deadline: float
    report: list[str] = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    optimal: bool = True
    gap: float = 0.0
    used_exact: bool = False
    used_heur: bool = False
    timed_out: bool = False

    @property
    def objective(self) -> Objective:
        """The objective being minimised."""
        return self.spec.objective


def setup(units: gpd.GeoDataFrame, spec: PartitionSpec, *, deadline: float) -> PlanState:
    """The problem as a :class:`PlanState` with no plan yet, or the reasons no plan can
    exist: weights and bounds (:func:`_bounds`), units no plan can hold
    (:func:`_check_units`), the connected graph (:func:`_connect`), the current plan, new
    town and locks as area ids (:func:`_current_areas`, :func:`_locks`), the independent
    pieces and their areas (:func:`_split`)."""
    w, k, lower, upper, slack = _bounds(units, spec)
    _check_units(units, w, k, upper, slack, spec.tolerance)
    report: list[str] = []
    if spec.progress:
        spec.progress("building the unit graph", 0.0)
    graph = spec.graph
    if graph is None:
        graph = graph_from_units(units, crs=spec.crs, main_streets=spec.main_streets)
    elif graph.n != len(units):
        raise ValidationError(f"the graph has {graph.n} units but there are {len(units)} units")
    xy_geo = units.geometry.to_crs(graph.crs)
    xy = np.column_stack([xy_geo.centroid.x.to_numpy(), xy_geo.centroid.y.to_numpy()])
    graph, comp = _connect(graph, w, xy, np.asarray(xy_geo.values, dtype=object),
                           islands=spec.islands, lower=lower - slack, report=report)
    continues, label_to_area, home = _current_areas(units, spec.current, w, k)
    founded: list[int] = []
    if spec.new_town is not None:
        if spec.new_town not in units.columns:
            raise ValidationError(f"units have no new-town column {spec.new_town!r}")
        flag = units[spec.new_town].fillna(False).astype(bool).to_numpy()
        kept = sum(c is not None for c in continues)
        founded, note = _found_new_areas(graph, flag, w, xy, home, kept, k)
        if note:
            report.append(note)
    locked = _locks(units, spec.locks, label_to_area, k)
    piece, kp = _split(units, spec, comp, w, k, lower, upper, slack, locked, report)
    return PlanState(
        spec=spec, units=units, w=w, k=k, lower=lower, upper=upper, slack=slack, graph=graph,
        xy=xy, home=home, locked=locked, continues=continues, founded=founded, piece=piece,
        npieces=len(kp),
        # each piece's global area ids: its locked areas, then the current areas living in it
        area_ids=_area_ids(kp, piece, locked, home, w, k), deadline=deadline, report=report,
        labels=np.full(len(units), -1, dtype=np.int64),
    )


def _bounds(units: gpd.GeoDataFrame, spec: PartitionSpec
            ) -> tuple[np.ndarray, int, float, float, float]:
    """The checked weights, the number of areas, the weight bounds and the float slack."""
    if not isinstance(units, gpd.GeoDataFrame):
        raise ValidationError("units must be a GeoDataFrame of polygons")
    weight, tolerance = spec.weight, spec.tolerance
    if weight not in units.columns:
        raise ValidationError(f"units have no weight column {weight!r}; columns: {list(units.columns)}")
    w = pd.to_numeric(units[weight], errors="coerce").to_numpy(dtype=float)
    if np.isnan(w).any() or (w < 0).any():
        raise ValidationError(f"weight column {weight!r} must be numbers >= 0 on every unit")
    if len(units) == 0:
        raise InfeasibleError("no units to partition", ["the unit set is empty"])
    if not 0.0 <= tolerance < 1.0:
        raise ValidationError(f"tolerance must be within [0, 1), got {tolerance}")
    total = float(w.sum())
    areas = spec.areas
    if areas is None:
        if spec.target is None or spec.target <= 0:
            raise ValidationError("give the number of areas (areas=K) or a positive target weight")
        areas = max(1, round(total / spec.target))
    k = int(areas)
    if k < 1:
        raise ValidationError(f"the number of areas must be >= 1, got {k}")
    if spec.method not in ("auto", "heuristic", "exact"):
        raise ValidationError(f"method must be auto, heuristic or exact, not {spec.method!r}")
    if spec.islands not in ("separate", "bridge", "error"):
        raise ValidationError(f"islands must be separate, bridge or error, not {spec.islands!r}")
    ideal = total / k
    lower, upper = ideal * (1 - tolerance), ideal * (1 + tolerance)
    # The tiny relative slack absorbs float round-off in sums of weights.
    return w, k, lower, upper, 1e-9 * max(upper, 1.0)


def _check_units(units: gpd.GeoDataFrame, w: np.ndarray, k: int, upper: float, slack: float,
                 tolerance: float) -> None:
    """Refuse, with the reasons, when there are fewer units than areas or a unit outweighs
    an area."""
    n = len(units)
    ideal = float(w.sum()) / k
    reasons: list[str] = []
    if k > n:
        reasons.append(f"{k} areas asked for but there are only {n} units")
    heavy = np.flatnonzero(w > upper + slack)
    if len(heavy):
        ids = ", ".join(str(units.index[i]) for i in heavy[:5])
        reasons.append(
            f"{len(heavy)} unit(s) weigh more than the upper bound {upper:.1f} "
            f"(ideal {ideal:.1f} ± {tolerance:.1%}): {ids}; split them, use fewer areas or a "
            f"larger tolerance"
        )
    if reasons:
        raise InfeasibleError("no balanced plan exists: " + "; ".join(reasons), reasons)


def _current_areas(units: gpd.GeoDataFrame, current: str | None, w: np.ndarray, k: int
                   ) -> tuple[list[Hashable | None], dict[Hashable, int], np.ndarray]:
    """The current plan as area ids: the ``k`` heaviest current labels keep an area each.
    Returns the label each area continues, the label → area map and each unit's home area."""
    n = len(units)
    cur_vals: list[Hashable | None] = [None] * n
    if current is not None:
        if current not in units.columns:
            raise ValidationError(f"units have no current-plan column {current!r}")
        cur_vals = [None if pd.isna(v) else v for v in units[current].tolist()]
    cur_weight: dict[Hashable, float] = {}
    for v, wu in zip(cur_vals, w, strict=True):
        if v is not None:
            cur_weight[v] = cur_weight.get(v, 0.0) + float(wu)
    kept = sorted(cur_weight, key=lambda v: (-cur_weight[v], str(v)))[:k]
    continues: list[Hashable | None] = [*kept, *([None] * (k - len(kept)))]
    label_to_area = {v: i for i, v in enumerate(kept)}
    home = np.asarray([label_to_area.get(v, -1) if v is not None else -1 for v in cur_vals])
    return continues, label_to_area, home


def _locks(units: gpd.GeoDataFrame, locks: Mapping[Hashable, Hashable] | None,
           label_to_area: Mapping[Hashable, int], k: int) -> np.ndarray:
    """Locked area id per unit (``-1``: free); a lock names a kept current label or an id."""
    locked = np.full(len(units), -1, dtype=np.int64)
    pos_of = {idx: i for i, idx in enumerate(units.index)}
    for uid, a in (locks or {}).items():
        if uid not in pos_of:
            raise ValidationError(f"locked unit {uid!r} is not among the units")
        if a in label_to_area:
            area = label_to_area[a]
        elif isinstance(a, int | np.integer) and 0 <= int(a) < k:
            area = int(a)
        else:
            raise ValidationError(
                f"unit {uid!r} is locked to {a!r}, which is neither a current area kept in the "
                f"plan nor an area id 0..{k - 1}"
            )
        locked[pos_of[uid]] = area
    return locked


def _split(units: gpd.GeoDataFrame, spec: PartitionSpec, comp: np.ndarray, w: np.ndarray,
           k: int, lower: float, upper: float, slack: float, locked: np.ndarray,
           report: list[str]) -> tuple[np.ndarray, list[int]]:
    """Independent pieces (connected components × containment groups): the piece of every
    unit and the number of areas of each piece (:func:`_allocate`)."""
    n = len(units)
    groups = spec.groups
    grp = np.zeros(n, dtype=np.int64)
    if groups is not None:
        if groups not in units.columns:
            raise ValidationError(f"units have no containment column {groups!r}")
        grp = pd.factorize(units[groups].astype("string").fillna("<none>"))[0].astype(np.int64)
    piece_key = comp * (int(grp.max()) + 1) + grp
    keys, piece = np.unique(piece_key, return_inverse=True)
    npieces = len(keys)
    pw = np.bincount(piece, weights=w, minlength=npieces)
    gsize = int(grp.max()) + 1
    ideal = float(w.sum()) / k
    kp = _allocate(pw, k, lower - slack, upper + slack, ideal, locked, piece, units, groups,
                   piece_comp=keys // gsize, piece_group=keys % gsize, tolerance=spec.tolerance)
    if npieces > 1:
        report.append(
            f"split into {npieces} independent pieces (components × containment groups) with "
            f"{', '.join(str(x) for x in kp)} areas"
        )
    return piece, kp


def _connect(
    graph: UnitGraph, w: np.ndarray, xy: np.ndarray, geoms: np.ndarray, *, islands: Islands,
    lower: float, report: list[str],
) -> tuple[UnitGraph, np.ndarray]:
    """The graph with its disconnected components handled as ``islands`` says, and the
    component of every unit (notes go to ``report``)."""
    comp = graph.components()
    ncomp = int(comp.max()) + 1
    if ncomp > 1:
        sizes = np.bincount(comp)
        desc = ", ".join(
            f"{int(s)} unit(s) weighing {float(w[comp == c].sum()):g}"
            for c, s in enumerate(sizes)
        )
        if islands == "error":
            raise InfeasibleError(
                f"the units form {ncomp} disconnected pieces ({desc}); join them or pass "
                f"islands='bridge' (--islands bridge) or 'separate'",
                [f"disconnected input: {ncomp} components"],
            )
        if islands == "bridge":
            graph, notes = bridge_components(graph, xy)
            report.extend(notes)
            comp = graph.components()
        else:
            # Components too light to be an area (an empty park cut off by a street gap) join
            # their nearest neighbour; only heavy islands must carry whole areas of their own.
            graph, notes = attach_light_components(graph, geoms, w, lower)
            report.extend(notes)
            comp = graph.components()
            left = int(comp.max()) + 1
            if left > 1:
                sizes = np.bincount(comp)
                desc = ", ".join(
                    f"{int(s)} unit(s) weighing {float(w[comp == c].sum()):g}"
                    for c, s in enumerate(sizes)
                )
                report.append(
                    f"the units form {left} disconnected pieces ({desc}); each gets its own areas"
                )
    return graph, comp


@dataclass
class _Piece:
    """One independent piece of a :class:`PlanState`, in local area ids."""

    p: int
    nodes: np.ndarray
    graph: UnitGraph
    k: int
    lk: np.ndarray
    hm: np.ndarray | None


def solve_piece(state: PlanState, p: int) -> PlanState:
    """Fill in the labels of piece ``p``: exact, or the heuristic (with the MILP as the
    fallback of ``method="auto"`` on small pieces)."""
    nodes = np.flatnonzero(state.piece == p)
    aids: list[int] = state.area_ids[p]
    to_local: dict[int, int] = {gid: i for i, gid in enumerate(aids)}
    sub, _ = state.graph.subgraph(nodes)
    lk = np.asarray([to_local.get(int(x), -1) if x >= 0 else -1 for x in state.locked[nodes]])
    hm = np.asarray([to_local.get(int(x), -1) if x >= 0 else -1 for x in state.home[nodes]])
    pc = _Piece(p=p, nodes=nodes, graph=sub, k=len(aids), lk=lk,
                hm=hm if (hm >= 0).any() else None)
    if pc.k == 1:
        loc = np.zeros(len(nodes), dtype=np.int64)
        if sub.components().max() > 0:
            raise InfeasibleError("a piece is disconnected", ["disconnected piece"])
    elif state.spec.method == "exact":
        loc = _exact_piece(state, pc)
    else:
        loc = _heuristic_piece(state, pc)
    state.labels[nodes] = np.asarray(aids, dtype=np.int64)[loc]
    return state


def _exact_piece(state: PlanState, pc: _Piece) -> np.ndarray:
    """The MILP on one piece, warm-started by the heuristic's plan."""
    # The heuristic's plan warm-starts SCIP: the solver then only has to prove (or improve
    # on) it, which is most of what it can do in a few seconds. The full heuristic (same
    # budget as method="heuristic"), so the incumbent is the heuristic's own plan and the
    # answer is never worse than it; the MILP gets the time that is left.
    warm = _search(state, pc, progress=False)
    ex = solve_exact(
        pc.graph, state.w[pc.nodes], pc.k, lower=state.lower - state.slack,
        upper=state.upper + state.slack, objective=state.objective, locked=pc.lk, home=pc.hm,
        time_limit=max(1.0, state.deadline - time.monotonic()),
        hint=warm.labels if warm.feasible else None, seed=state.spec.seed,
    )
    if ex.labels is None:
        raise InfeasibleError(
            "the MILP proved no balanced contiguous plan exists" if ex.infeasible
            else "the MILP found no plan within the time limit; allow more time",
            ["infeasible" if ex.infeasible else "time limit"],
        )
    loc = ex.labels
    if warm.feasible and warm.labels is not None:
        # never worse than the heuristic: keep its plan when the solver's is not better on
        # the objective it solved (the linear terms)
        wv = _linear_value(state.objective, pc.graph, warm.labels, pc.k, state.w[pc.nodes],
                           pc.hm)
        if wv < ex.objective - 1e-12 * max(abs(wv), 1.0):
            loc = warm.labels
            state.report.append(f"piece {pc.p}: the heuristic's plan beat the MILP's "
                                "incumbent and was kept")
    if not ex.optimal:
        state.report.append(
            f"piece {pc.p}: the MILP stopped at the time limit with a relative gap of "
            f"{ex.gap:.2%} on the linear terms: not proven optimal"
        )
    state.used_exact = True
    state.optimal = state.optimal and ex.optimal and ex.rounding == 0.0
    state.gap = max(state.gap, ex.gap + 2.0 * ex.rounding / max(abs(ex.objective), 1e-12))
    return loc


def _heuristic_piece(state: PlanState, pc: _Piece) -> np.ndarray:
    """Construction, annealing and merge-split on one piece (:func:`_search`); the
    MILP when that finds no balanced plan on a small piece and ``method="auto"``."""
    n = len(pc.nodes)
    sr = _search(state, pc, progress=True)
    state.timed_out = state.timed_out or sr.timed_out
    state.used_heur = True
    state.optimal = False
    if sr.feasible and sr.labels is not None:
        return sr.labels
    if state.spec.method == "auto" and n <= EXACT_MAX_UNITS:
        state.report.append(f"piece {pc.p}: heuristic found no balanced plan; solved by MILP")
        ex = solve_exact(
            pc.graph, state.w[pc.nodes], pc.k, lower=state.lower - state.slack,
            upper=state.upper + state.slack, objective=state.objective, locked=pc.lk,
            home=pc.hm, time_limit=max(5.0, state.deadline - time.monotonic()),
        )
        if ex.labels is None:
            raise InfeasibleError(
                "no balanced contiguous plan exists (proved by the MILP)" if ex.infeasible
                else "no balanced contiguous plan found within the time limit",
                [f"piece {pc.p} of {n} units into {pc.k} areas"],
            )
        state.used_exact = True
        return ex.labels
    raise InfeasibleError(
        f"no balanced contiguous plan found for {n} units in {pc.k} "
        f"areas at ±{state.spec.tolerance:.1%}; try a larger tolerance, fewer locks, "
        f"more time or another seed",
        ["search found no balanced plan"],
    )


def _search(state: PlanState, pc: _Piece, *, progress: bool) -> SearchResult:
    """The heuristic on one piece (:mod:`._search`): constructions, annealing and merge-split
    steps over a :class:`~._search.PieceSearch`, within the run's budget."""
    n = len(pc.nodes)
    spec = state.spec
    search = piece_search(
        pc.graph, state.w[pc.nodes], pc.k, lower=state.lower, upper=state.upper,
        objective=spec.objective, locked=pc.lk, home=pc.hm, xy=state.xy[pc.nodes],
        seed=spec.seed + 7919 * pc.p,
    )
    frac0, frac1 = pc.p / state.npieces, (pc.p + 1) / state.npieces
    budget = SearchBudget(
        starts=spec.starts,
        iterations=spec.iterations or int(np.clip(SA_ITERATIONS_PER_UNIT * n, 20_000, 1_500_000)),
        deadline=state.deadline,
        recom_rounds=(default_recom_rounds(n, pc.k) if spec.recom_rounds is None
                      else spec.recom_rounds),
        progress=spec.progress if progress else None,
        progress_span=(0.05 + 0.9 * frac0, 0.05 + 0.9 * frac1),
    )
    return search_piece(search, budget)


def _finish(state: PlanState, *, started: float) -> PartitionResult:
    """Check the filled-in plan with the constraint callables, score it, say what was proven."""
    if state.timed_out:
        state.report.append(
            "the time limit cut the search short: the plan may differ between runs")
    labels, k, objective = state.labels, state.k, state.objective
    lower, upper, slack = state.lower, state.upper, state.slack
    plan = Plan(graph=state.graph, labels=labels, weights=state.w, k=k)
    locks_pos = {int(u): int(a) for u, a in enumerate(state.locked) if a >= 0}
    violations = check_plan(
        plan, [contiguous, within_bounds(lower - slack, upper + slack), respects_locks(locks_pos)]
    )
    if violations:
        raise InfeasibleError("the search ended with an invalid plan: " + "; ".join(violations), violations)
    obj = objective.value(state.graph, labels, k=k, weights=state.w,
                          home=state.home if state.spec.current else None)
    if state.spec.progress:
        state.spec.progress("done", 1.0)
    used_exact, used_heur = state.used_exact, state.used_heur
    only_exact = used_exact and not used_heur
    linear_optimal = bool(only_exact and state.optimal)
    linear_gap = state.gap if only_exact else math.nan
    full_optimal = linear_optimal and objective.polsby_popper == 0
    return PartitionResult(
        labels=pd.Series(labels, index=state.units.index, name="area"),
        k=k,
        lower=lower,
        upper=upper,
        continues=state.continues,
        optimal=full_optimal,
        # the MILP's gap on what it solved: with a Polsby-Popper weight that is the linear
        # part (``proven`` says so); never unknown once the MILP ran
        gap=linear_gap,
        objective=obj,
        seconds=time.monotonic() - started,
        method="mixed" if used_exact and used_heur else ("exact" if used_exact else "heuristic"),
        graph=state.graph,
        report=state.report,
        founded=state.founded,
        linear_optimal=linear_optimal,
        linear_gap=linear_gap,
        proven=_proven(only_exact, linear_optimal, linear_gap, objective),
        pp_weight=objective.polsby_popper,
    )


def _linear_value(objective: Objective, graph: UnitGraph, labels: np.ndarray, k: int,
                  w: np.ndarray, home: np.ndarray | None) -> float:
    """The objective's linear terms (what the MILP optimises) of a piece's plan."""
    e = graph.edges
    cut = labels[e[:, 0]] != labels[e[:, 1]]
    value = float(objective.edge_costs(graph, k)[cut].sum())
    if home is not None and objective.disruption > 0:
        value += objective.disruption * float(w[labels != home].sum()) / max(float(w.sum()), 1e-12)
    return value


def _proven(only_exact: bool, linear_optimal: bool, linear_gap: float,
            objective: Objective) -> str:
    """What a plan's optimality claim covers, in one sentence (:attr:`PartitionResult.proven`).

    The MILP models the linear terms only; a Polsby-Popper weight makes the full objective
    one it does not solve, so optimality is then claimed for the linear part alone.
    """
    if not only_exact:
        return "nothing: the heuristic search proves no optimality"
    linear = ("the linear terms (cut edges, cut length, main streets, disruption)"
              if objective.polsby_popper > 0 else "the full objective")
    if linear_optimal:
        what = f"optimal for {linear}"
    elif math.isfinite(linear_gap):
        what = f"within a relative gap of {linear_gap:.2e} of the optimum of {linear}"
    else:
        what = f"a feasible plan; no bound on {linear}"
    if objective.polsby_popper > 0:
        what += (f"; the Polsby-Popper term (weight {objective.polsby_popper:g}) is not in "
                 "the exact model, so the full objective is not proven optimal")
    return what


def _found_new_areas(
    graph: UnitGraph,
    flag: np.ndarray,
    w: np.ndarray,
    xy: np.ndarray,
    home: np.ndarray,
    kept: int,
    k: int,
) -> tuple[list[int], str]:
    """Point the new areas ``kept..k-1`` at the new town, in place (``home`` is modified).

    Flagged units rarely touch each other (streets and blocks lie between the compounds), so
    they are grouped by space: the heaviest connected clusters of flagged units seed the new
    areas and every other flagged unit joins the seed cluster nearest to it. Returns the
    founded area ids and a note for the report.
    """
    if kept >= k or not flag.any():
        return [], ""
    comp = graph.components(flag)
    ncl = int(comp.max()) + 1
    cw = np.bincount(comp[flag], weights=w[flag], minlength=ncl)
    seeds = sorted(range(ncl), key=lambda c: (-cw[c], c))[: k - kept]
    centre = np.asarray([xy[comp == c].mean(axis=0) for c in seeds])
    for u in np.flatnonzero(flag).tolist():
        c = int(comp[u])
        i = seeds.index(c) if c in seeds else int(np.argmin(((centre - xy[u]) ** 2).sum(axis=1)))
        home[u] = kept + i
    return list(range(kept, kept + len(seeds))), (
        f"{len(seeds)} new area(s) founded on the new town ({int(flag.sum())} unit(s) "
        f"weighing {float(w[flag].sum()):g})"
    )


#: Estimated seconds of one annealing start per unit at the default proposal budget
#: (~40 ms for ~250 units on one core, measured; see :data:`DEFAULT_STARTS`), with margin.
SECONDS_PER_START_PER_UNIT = 2e-4
#: Most restarts :func:`restarts_for` gives (the best of many starts stops improving).
MAX_RESTARTS = 256


def restarts_for(n: int, time_limit: float) -> int:
    """Annealing starts that fill about a quarter of ``time_limit`` on ``n`` units.

    The heuristic should use the time it is given, yet stay reproducible: a budget read off
    the clock would differ between runs and machines. So the count is derived from the units
    and the time limit only (an estimate of a start's cost, :data:`SECONDS_PER_START_PER_UNIT`,
    with room for the merge-split phase and slower machines), between :data:`DEFAULT_STARTS`
    and :data:`MAX_RESTARTS`. The deadline stays a safety cap; when it cuts a run short the
    report says the plan may differ between runs.
    """
    est = SECONDS_PER_START_PER_UNIT * max(n, 1)
    return int(np.clip(math.floor(0.25 * float(time_limit) / est), DEFAULT_STARTS, MAX_RESTARTS))


def default_recom_rounds(n: int, k: int) -> int:
    """Merge-split steps for a piece of ``n`` units in ``k`` areas.

    ``RECOM_ROUNDS_PER_PAIR`` attempts per pair of neighbouring areas (a planar map of ``k``
    areas has under ``3k`` such pairs), at most ``RECOM_MAX_ROUNDS``: with many areas (grids)
    each step is small and the annealing has already done most of the work.
    """
    if k < 2 or n < 3:
        return 0
    pairs = min(k * (k - 1) // 2, 3 * k)
    return int(min(RECOM_ROUNDS_PER_PAIR * pairs, RECOM_MAX_ROUNDS))


#: Merge-split attempts per pair of neighbouring areas (see :func:`default_recom_rounds`).
RECOM_ROUNDS_PER_PAIR = 30
#: Cap on the merge-split attempts of one piece.
RECOM_MAX_ROUNDS = 400


def _allocate(
    pw: np.ndarray,
    k: int,
    lower: float,
    upper: float,
    ideal: float,
    locked: np.ndarray,
    piece: np.ndarray,
    units: gpd.GeoDataFrame,
    groups: str | None,
    *,
    piece_comp: np.ndarray | None = None,
    piece_group: np.ndarray | None = None,
    tolerance: float | None = None,
) -> list[int]:
    """Number of areas per piece: each piece's weight must fit ``k_p`` areas within bounds.

    When no allocation exists, the error names only the remedies that pass this same test
    (:func:`_remedies`): allowing areas across ``groups``, bridging islands, a larger
    tolerance, another number of areas.
    """
    npieces = len(pw)
    lo_k = [max(1, math.ceil(x / upper)) if upper > 0 else 1 for x in pw]
    hi_k = [math.floor(x / lower) if lower > 0 else k for x in pw]
    reasons = []
    nlocks = [len({int(a) for a in locked[piece == p] if a >= 0}) for p in range(npieces)]
    pc = np.zeros(npieces, dtype=np.int64) if piece_comp is None else np.asarray(piece_comp)
    pg = np.zeros(npieces, dtype=np.int64) if piece_group is None else np.asarray(piece_group)
    for p in range(npieces):
        lo_k[p] = max(lo_k[p], nlocks[p])
        if lo_k[p] > hi_k[p]:
            cut_by_group = groups is not None and int((pc == pc[p]).sum()) > 1
            why = (f"it is one {groups} of a connected area" if cut_by_group
                   else "it is cut off from the rest" if len(set(pc.tolist())) > 1 else "")
            reasons.append(
                f"a piece of {int((piece == p).sum())} unit(s) weighing {pw[p]:g} cannot be "
                f"split into whole areas of {lower:.1f}–{upper:.1f}" + (f" ({why})" if why else "")
            )
    for a in {int(x) for x in locked if x >= 0}:
        ps = {int(p) for p in piece[locked == a]}
        if len(ps) > 1:
            reasons.append(f"area {a} has locked units in {len(ps)} separate pieces "
                           f"(different components{' or ' + groups if groups else ''})")
    if sum(lo_k) > k:
        reasons.append(f"the pieces need at least {sum(lo_k)} areas but only {k} were asked for")
    if sum(hi_k) < k:
        reasons.append(f"the pieces allow at most {sum(hi_k)} balanced areas but {k} were asked for")
    if reasons:
        fixes = (_remedies(pw, k, ideal, tolerance, nlocks, pc, pg, groups)
                 if tolerance is not None else [])
        raise InfeasibleError(
            "no balanced plan exists: " + "; ".join(reasons)
            + ("; what would work: " + "; or ".join(fixes) if fixes else ""),
            reasons + [f"remedy: {f}" for f in fixes],
        )
    kp = [min(max(round(x / ideal), lo), hi) for x, lo, hi in zip(pw, lo_k, hi_k, strict=True)]
    while sum(kp) != k:
        if sum(kp) < k:
            p = max((p for p in range(npieces) if kp[p] < hi_k[p]), key=lambda p: pw[p] / kp[p])
            kp[p] += 1
        else:
            p = min((p for p in range(npieces) if kp[p] > lo_k[p]), key=lambda p: pw[p] / kp[p])
            kp[p] -= 1
    return kp


def _alloc_ok(pw: Sequence[float], k: int, tolerance: float, nlocks: Sequence[int]) -> bool:
    """Whether pieces of weights ``pw`` can carry ``k`` areas within ``±tolerance``."""
    total = float(sum(pw))
    if k < 1 or total <= 0:
        return False
    ideal = total / k
    lo, hi = ideal * (1 - tolerance), ideal * (1 + tolerance)
    slack = 1e-9 * max(hi, 1.0)
    lo_k = [max(1, math.ceil((x - slack) / hi), nl) for x, nl in zip(pw, nlocks, strict=True)]
    hi_k = [math.floor((x + slack) / lo) if lo > 0 else k for x in pw]
    return all(a <= b for a, b in zip(lo_k, hi_k, strict=True)) and sum(lo_k) <= k <= sum(hi_k)


def _remedies(pw: np.ndarray, k: int, ideal: float, tolerance: float, nlocks: Sequence[int],
              pc: np.ndarray, pg: np.ndarray, groups: str | None) -> list[str]:
    """The changes that make the area counts fit, each checked with :func:`_alloc_ok`.

    Pieces are connected components × containment groups; merging the groups of each
    component is what ``cross_subdistricts`` does, merging the components of each group what
    ``islands='bridge'`` does. Only remedies that pass are named, so the message never sends a
    planner to an option that fails the same way (as ``islands='bridge'`` did when the
    subdistricts, not islands, split the units).
    """
    del ideal
    out: list[str] = []

    def merged(key: np.ndarray) -> tuple[list[float], list[int]]:
        ws: dict[int, float] = {}
        nl: dict[int, int] = {}
        for p, kk in enumerate(key.tolist()):
            ws[kk] = ws.get(kk, 0.0) + float(pw[p])
            nl[kk] = nl.get(kk, 0) + int(nlocks[p])
        return list(ws.values()), list(nl.values())

    if groups is not None and len(set(pg.tolist())) > 1:
        mw, ml = merged(pc)
        if _alloc_ok(mw, k, tolerance, ml):
            out.append(f"let areas cross {groups} boundaries (cross_subdistricts=True, "
                       f"--cross-subdistricts)")
    if len(set(pc.tolist())) > 1:
        mw, ml = merged(pg)
        if _alloc_ok(mw, k, tolerance, ml):
            out.append("join the disconnected parts (islands='bridge', --islands bridge)")
    for t in np.arange(math.floor(tolerance * 200 + 1) / 200, 0.5001, 0.005):
        if _alloc_ok(list(pw), k, float(t), nlocks):
            out.append(f"a tolerance of at least {float(t):.3f} (±{float(t):.1%})")
            break
    fits = [kk for kk in range(1, 2 * k + 11) if kk != k and _alloc_ok(list(pw), kk, tolerance,
                                                                       nlocks)]
    if fits:
        near = sorted(fits, key=lambda kk: (abs(kk - k), kk))[:3]
        out.append(f"{' or '.join(str(x) for x in sorted(near))} areas instead of {k}")
    return out


def _area_ids(
    kp: Sequence[int],
    piece: np.ndarray,
    locked: np.ndarray,
    home: np.ndarray,
    w: np.ndarray,
    k: int,
) -> list[list[int]]:
    """Global area ids for each piece: locked ids first, then the current areas with the most
    weight in the piece, then unused ids."""
    npieces = len(kp)
    ids: list[list[int]] = [[] for _ in range(npieces)]
    taken: set[int] = set()
    for p in range(npieces):
        for a in sorted({int(x) for x in locked[piece == p] if x >= 0}):
            ids[p].append(a)
            taken.add(a)
    pairs = []
    for p in range(npieces):
        mask = (piece == p) & (home >= 0)
        if mask.any():
            hw = np.bincount(home[mask], weights=w[mask], minlength=k)
            for ai in np.flatnonzero(hw > 0).tolist():
                pairs.append((float(hw[ai]), p, int(ai)))
    for _, p, a in sorted(pairs, key=lambda t: (-t[0], t[1], t[2])):
        if a not in taken and len(ids[p]) < kp[p]:
            ids[p].append(a)
            taken.add(a)
    free = [a for a in range(k) if a not in taken]
    for p in range(npieces):
        while len(ids[p]) < kp[p]:
            ids[p].append(free.pop(0))
    return ids

