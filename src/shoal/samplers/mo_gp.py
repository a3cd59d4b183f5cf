"""MOGP: Gaussian-process Bayesian optimization of several objectives and constraints (small budgets).

The GP machinery is the single-objective ``GP``'s (``gp.py``, ``_gp_math``, ``_gp_space``): the same
encoding of choices, integers and conditional dimensions, the same Matern-5/2 fit per model, the same
candidates and acquisition maximizer; the initial design is Sobol points only (GP's starts at the
centre, see ``MOGP.start_at_centre``), until ``n_startup`` trials have values.

- One GP per objective, on its lower-is-better score standardized linearly (``standardize``: mean 0,
  SD 1), never log-transformed nor robustly warped like GP's targets; failed trials tie with the worst
  value. Hypervolumes are measured in these units, so the hypervolume MOGP improves is the user's up
  to one scale per objective, which keeps objectives of different scales comparable. GP's robust
  warp compresses each objective's bad tail, and one objective's bad tail is where another is best
  (the largest forests have the lowest error): the front's low-error end shrank in the modelled units,
  and EHVI sent proposals to tiny forests instead. A log stretches the good end the same way (a forest
  of 3 nodes against 2 counting as much as 300 against 200).
- Every model warps its numeric inputs (integers and floats; not choices): each column passes through
  a Kumaraswamy CDF whose two shapes are fitted with the kernel (``_gp_warp``, a log-normal prior
  around the identity). A front spans each objective's whole range, so a model must be right across
  the input space, not only near one optimum, and many responses are not stationary there: a forest's
  error falls steeply over its first trees and hardly moves after 30. The single-objective GP does not
  warp: there it lowered every group.
- The two together, measured (``benchmarks/multiobjective.py``, hypervolume at 50 trials): the forest
  231.5 -> 238.2 over seeds 0-9 and 229.6 -> 236.9 over seeds 10-19 (Optuna's TPE 234.1 and 230.6;
  either change alone adds at most 3.4), the tree task level (347.3 -> 347.6), ZDT3 11.91 -> 12.05,
  DTLZ2 9.40 -> 9.25 (9.80 at 100 trials, up from 9.79), the others within 0.2% (RESULTS.md, "Two
  changes to MOGP that win the real group").
- One GP per constraint on its slack (metric - bound for ``<=``, bound - metric for ``>=``; met when
  <= 0), standardized linearly so the bound maps to a known threshold; only trials that returned the
  metric inform it. P(feasible) is the product over constraints of P(slack <= 0).
- Acquisition, maximized over the cube (Sobol candidates and mutations of the front, a local search on
  continuous coordinates, a sweep over discrete values; see ``gp.Acquisition``):
  - while no complete trial is feasible: P(feasible);
  - 1-3 objectives: log EHVI (``stats.pareto``, exact by box decomposition) of the feasible front of
    complete trials, reference point the worst modelled value of each objective plus 10% of its range,
    plus log P(feasible); with one objective this is expected improvement over the best feasible value;
  - 4 or more: ParEGO (Knowles 2006): each proposal draws Chebyshev weights lambda from the simplex,
    scalarizes the objectives (normalized to their observed range) as max_j lambda_j f_j + 0.05
    sum_j lambda_j f_j, fits one GP to that and maximizes log EI of the best feasible value plus
    log P(feasible). (EHVI's boxes grow like n^(m-1) beyond 3 objectives.)
- Running trials are fantasies (a kriging believer): each model gets their posterior mean as an
  observation, so the uncertainty there collapses, and a running trial predicted feasible joins the
  front; parallel asks spread out.
- Each proposal's ``extra`` says ``{"sampler": "mogp", "why": ...}``. A failure of the models falls back
  to a random point and logs why on ``logging.getLogger("shoal")``.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
from scipy.special import log_ndtr

from ..objectives import Constraint
from ..stats import ehvi, pareto
from ..trial import Trial
from . import _gp_math as gm
from . import _mo
from ._gp_space import Encoder
from .base import Proposal, SamplingContext
from .gp import (
    _BLAS_LOCK,
    Acquisition,
    GPFamily,
    candidate_points,
    default_n_startup,
    fit_targets,
    init_gp_settings,
    one_blas_thread,
    subset_indices,
)

__all__ = ["MOGP", "MAX_EHVI_OBJECTIVES"]

log = logging.getLogger("shoal")
NAME = "mogp"
#: Up to this many objectives the acquisition is EHVI; beyond, ParEGO's random scalarizations.
MAX_EHVI_OBJECTIVES = 3
_RHO = 0.05  # ParEGO's augmentation: keeps weakly dominated points from tying with the front
_N_TOP = 10  # front points whose mutations join the candidates
_FIT_STREAM = 0x6D6F67
_WEIGHT_STREAM = 0x6D6F68
_FALLBACK_STREAM = 0x6D6F69


def _slack(constraint: Constraint, values: dict[str, float]) -> float:
    """How far a metric is on the wrong side of its bound (<= 0 when met); NaN when it is missing."""
    value = values.get(constraint.metric)
    if value is None or not math.isfinite(value):
        return math.nan
    return value - constraint.bound if constraint.op == "<=" else constraint.bound - value


class _Models(Acquisition):
    """log P(feasible) plus log EHVI (``boxes``) or log EI of a scalarization (``scalar``)."""

    def __init__(
        self,
        enc: Encoder,
        rng: np.random.Generator,
        constraints: list[tuple[gm.Posterior, float]],
        objectives: list[gm.Posterior] | None = None,
        boxes: ehvi.Boxes | None = None,
        scalar: tuple[gm.Posterior, float] | None = None,
    ) -> None:
        super().__init__(enc, rng)
        self.constraints, self.objectives, self.boxes, self.scalar = constraints, objectives, boxes, scalar

    def values(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros(len(x))
        for post, threshold in self.constraints:
            mean, std = post.predict(x)
            out += log_ndtr((threshold - mean) / std)
        if self.boxes is not None and self.objectives is not None:
            predictions = [post.predict(x) for post in self.objectives]
            mean = np.column_stack([p[0] for p in predictions])
            std = np.column_stack([p[1] for p in predictions])
            out += ehvi.log_expected_hypervolume_improvement(mean, std, self.boxes)
        elif self.scalar is not None:
            post, best = self.scalar
            mean, std = post.predict(x)
            out += gm.log_ei(mean, std, best)
        return out


class MOGP(GPFamily):
    """Multi-objective, constrained Gaussian-process BO (see the module docstring).

    - ``n_startup``: initial-design trials with values before the models start (default as GP's: one
      more than the modelled dimensions, between 5 and 10).
    - ``n_candidates`` (1024): Sobol candidates scored per proposal.
    - ``max_points`` (300): the most trials the models are fitted on (the best fifth by
      constraint-domination rank, the newest fifth, a seeded draw of the rest).
    """

    #: Unlike GP, MOGP's design is Sobol points only: the centre of the ranges is a single compromise,
    #: not a likely corner of a front. Measured (``make bench-mo``, 5 seeds, hypervolume at 50 trials):
    #: starting at the centre lowered the forest task's 234.2 to 228.5 (DTLZ2 9.40 -> 9.48, the others
    #: within 0.3%).
    start_at_centre = False
    #: See the module docstring: every model warps its numeric inputs.
    warp_inputs = True

    def __init__(
        self,
        n_startup: int | None = None,
        n_candidates: int = 1024,
        *,
        max_points: int = 300,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        init_gp_settings(self, "MOGP", n_startup, n_candidates, max_points)
        self._theta: dict[tuple, np.ndarray] = {}  # last fit per (study, model): a warm start

    # -- proposing -----------------------------------------------------------------------------
    def propose(self, context: SamplingContext) -> Proposal:
        enc = self._encoder_for(context.space)
        data = _mo.outcomes(context.history, context.spec)
        n_init = self.n_startup if self.n_startup is not None else default_n_startup(enc)
        if len(data) < n_init:
            proposal = self.initial_proposal(context, len(data), n_init)
            return dataclasses.replace(proposal, extra={**proposal.extra, "sampler": NAME})
        try:
            with _BLAS_LOCK, one_blas_thread():
                unit, why = self._model_point(context, enc, data)
            return Proposal(unit, extra={"sampler": NAME, "why": why})
        except Exception as exc:  # never crash a study over the models
            log.warning("MOGP: falling back to a random proposal for trial %d: %s: %s",
                        context.trial_number, type(exc).__name__, exc)
            unit = self.rng_for(context, _FALLBACK_STREAM).random(len(context.space))
            return Proposal(unit, extra={"sampler": NAME, "why": f"random fallback ({type(exc).__name__})"})

    def _model_point(
        self, context: SamplingContext, enc: Encoder, data: _mo.Outcomes
    ) -> tuple[np.ndarray, str]:
        spec = context.spec
        m = len(spec.objectives)
        rng = self.rng_for(context, _FIT_STREAM)
        trials: list[Trial] = data.trials + data.failed
        n_ok = len(data)
        ranks = _mo.constrained_ranks(data.scores, data.feasible, data.violation)
        idx = subset_indices(trials, np.r_[ranks, np.full(len(data.failed), ranks.max() + 1)], rng,
                             self.max_points)
        u_obs, act_obs = enc.from_trials([trials[i] for i in idx])
        x = enc.features(u_obs, act_obs)
        pending = [t for t in context.running if t.config or t.unit]
        x_p = enc.features(*enc.from_trials(pending)) if pending else np.empty((0, x.shape[1]))
        fit = _Fitter(self, context, enc, rng, x, x_p)
        observed = idx < n_ok
        rows = idx[observed]  # rows of ``data`` in the fit, in fit order
        constraints = [model for c in spec.constraints
                       for model in [fit.constraint(c, [trials[i] for i in idx], observed)] if model]
        believed_feasible = np.ones(len(pending), dtype=bool)
        for post, threshold in constraints:
            if pending:
                believed_feasible &= post.predict(x_p)[0] <= threshold
        feasible_done = data.feasible & data.complete
        what = _mo.describe_spec(spec)
        if spec.constraints and not feasible_done.any():
            acquisition = _Models(enc, rng, constraints)
            why = f"P(feasible) of {len(spec.constraints)} constraint(s): no complete trial is feasible yet"
        elif m <= MAX_EHVI_OBJECTIVES:
            targets = _targets(data.scores, len(data.failed))[idx]
            models, z, believed = [], np.empty((len(idx), m)), np.empty((len(pending), m))
            for j, objective in enumerate(spec.objectives):
                post, z[:, j], believed[:, j] = fit.objective(("objective", objective.name), targets[:, j])
                models.append(post)
            front = np.vstack([z[observed][feasible_done[rows]], believed[believed_feasible]])
            ref = pareto.reference_point(z[observed])
            boxes = ehvi.nondominated_boxes(front, ref)
            acquisition = _Models(enc, rng, constraints, objectives=models, boxes=boxes)
            gain = "EI of the best feasible value" if m == 1 else f"EHVI of a front of {len(boxes.front)}"
            why = f"{gain} x P(feasible), {what}" if spec.constraints else f"{gain}, {what}"
        else:
            weights = self.rng_for(context, _WEIGHT_STREAM).dirichlet(np.ones(m))
            targets = _targets(data.scores, len(data.failed))
            low, high = targets[:n_ok].min(axis=0), targets[:n_ok].max(axis=0)
            scaled = weights * (targets - low) / np.where(high > low, high - low, 1.0)
            scalar = scaled.max(axis=1) + _RHO * scaled.sum(axis=1)
            post, _, _ = fit.objective(("parego",), scalar[idx])
            at = x[observed][feasible_done[rows]] if feasible_done[rows].any() else x[observed]
            best = float(post.predict(at)[0].min())  # the incumbent as the model sees it
            acquisition = _Models(enc, rng, constraints, scalar=(post, best))
            why = (f"ParEGO: EI of a random Chebyshev scalarization (weights "
                   f"{', '.join(f'{w:.2f}' for w in weights)}), {what}")
        tried = u_obs
        if pending:
            tried = np.vstack([tried, enc.from_trials(pending)[0]])
        if len(idx) < len(trials):  # the points left out of the fit must not be proposed again
            tried = np.vstack([tried, enc.from_trials(trials)[0]])
        best_rows = _mo.select(data.scores[rows], data.feasible[rows], data.violation[rows], _N_TOP)
        top = u_obs[observed][best_rows] if len(best_rows) else u_obs
        unit = acquisition.maximize(candidate_points(enc, top, rng, self.n_candidates), tried)
        return unit, why

    def describe(self) -> str:
        return (f"MOGP(n_startup={self.n_startup}, n_candidates={self.n_candidates}, "
                f"max_points={self.max_points}, seed={self.seed})")


def standardize(y: np.ndarray) -> np.ndarray:
    """An objective's targets shifted and scaled to mean 0 and SD 1 (an affine map: hypervolumes keep
    their ratios; see the module docstring)."""
    sd = float(np.std(y))
    return (y - float(np.mean(y))) / (sd if sd > 0 else 1.0)


def _targets(scores: np.ndarray, n_failed: int) -> np.ndarray:
    """Minimization targets: the trials' scores, then one row per failed trial tying with the worst."""
    worst = scores.max(axis=0) if len(scores) else np.zeros(scores.shape[1])
    return np.vstack([scores, np.tile(worst, (n_failed, 1))])


class _Fitter:
    """Fits the models of one proposal: shared features, running trials as believers."""

    def __init__(self, sampler: MOGP, context: SamplingContext, enc: Encoder, rng: np.random.Generator,
                 x: np.ndarray, x_p: np.ndarray) -> None:
        self.sampler, self.context, self.enc, self.rng, self.x, self.x_p = sampler, context, enc, rng, x, x_p
        self.refit = context.trial_number % 10 == 0

    def _posterior(self, x: np.ndarray, z: np.ndarray, theta: np.ndarray) -> tuple[gm.Posterior, np.ndarray]:
        """The posterior, and with running trials the believer posterior and their means."""
        post = gm.Posterior(x, z, theta, self.enc.groups, self.enc.warp_cols)
        if not len(self.x_p):
            return post, np.empty(0)
        believed = post.predict(self.x_p)[0]
        return gm.Posterior(np.vstack([x, self.x_p]), np.r_[z, believed], theta, self.enc.groups,
                            self.enc.warp_cols), believed

    def _fit(self, key: tuple, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(targets, hyperparameters) of standardized targets ``y``, modelled as they are."""
        if np.ptp(y) == 0:  # nothing to learn yet: a flat model
            prior = gm.Prior.for_groups(self.enc.n_groups)
            return np.zeros(len(y)), prior.mode(self.enc.n_groups)
        return fit_targets(x, y, self.enc, self.rng, self.sampler._theta, (self.context.study_name, *key),
                           refit=self.refit, warped=False,
                           warp_inputs=self.sampler.warp_inputs,
                           seen=self.context.trial_number)[:2]

    def objective(self, key: tuple, y: np.ndarray) -> tuple[gm.Posterior, np.ndarray, np.ndarray]:
        """(posterior, modelled targets, believed values of the running trials) of one target."""
        z, theta = self._fit(key, self.x, standardize(y))
        post, believed = self._posterior(self.x, z, theta)
        return post, z, believed

    def constraint(
        self, constraint: Constraint, trials: list[Trial], observed: np.ndarray
    ) -> tuple[gm.Posterior, float] | None:
        """(posterior of the standardized slack, the threshold met slacks are under), or None when the
        trials say nothing about it (no metric, or one value only)."""
        slack = np.array([_slack(constraint, t.values) if ok else math.nan
                          for t, ok in zip(trials, observed, strict=True)])
        known = np.isfinite(slack)
        if known.sum() < 2 or np.ptp(slack[known]) == 0:
            return None
        s = slack[known]
        centre, scale = float(s.mean()), float(s.std())
        z = (s - centre) / scale
        z_fit, theta = self._fit(("constraint", str(constraint)), self.x[known], z)
        post, _ = self._posterior(self.x[known], z_fit, theta)
        return post, -centre / scale
