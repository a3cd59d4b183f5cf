"""Gaussian-process Bayesian optimization on numpy/scipy: Matern-5/2 GP, log expected improvement.

- Inputs: the unit cube (log and reverse_log floats on their own scale); integers and stepped
  floats at the centres of their values' bins; choices one-hot; conditional spaces with inactive
  dimensions held at a placeholder plus an "active" column per condition (see ``_gp_space``).
- Model: Matern-5/2 with one length scale per dimension (one per choice), signal variance and
  noise, fitted by maximizing the marginal likelihood plus log-normal priors (L-BFGS-B, analytic
  gradients over the n(n-1)/2 kernel pairs, warm-started from the previous fit and from the prior
  mode every tenth trial). Beyond 100 points the fit is redone only once the data grew 5% since the
  last one (``REUSE_FROM``); in between, the posterior conditions on every point with the last fit's
  hyperparameters.
- Inputs are not warped (``MOGP``'s models are): a fitted Kumaraswamy warp per numeric column lowered
  the peers benchmark's score on every group (10 seeds: BBOB 78.6 -> 66.8, synthetic 92.0 -> 87.6;
  integers only, scikit-learn tasks 67.0 -> 64.7). Likely why: one optimum needs the model right only
  near it, and two more shapes per column fitted to a few dozen points bend it wrongly there
  (RESULTS.md, "Two changes to MOGP that win the real group", its last part).
- Outputs: minimized (negated when maximizing), modelled as they are or, when all are positive,
  as their logarithm, whichever fit has the higher penalized marginal likelihood of the raw values
  (the transform's Jacobian included, see ``output_transforms``): a multiplicative scale such as
  BBOB f10's ill-conditioned ellipsoid is far smoother in log (normalized score 8 -> 68 in 10-d).
  Then robustly standardized (median and interquartile range, the bad tail log-compressed and
  softly capped, see ``warp``), so one diverged run does not flatten the model. (Rank-warping to
  normal scores was tried first: it hid the depth of narrow optima and did worse, e.g. Hartmann6
  regret 0.50 against 0.13.)
  FAILED trials and values that are not finite count as ties with the worst observed value
  (the model steers away from where trials fail); PRUNED trials count with their last reported
  value; STALE ones are ignored.
- Prior mean: a bowl, deepest at the centre of the numeric dimensions, its depth (at least 0)
  fitted by generalized least squares (``_gp_mean``), so that far from the data the model no longer
  expects the median and stops sending most proposals to the faces of the box (10 seeds: BBOB
  76.1 -> 85.5, synthetic 91.2 -> 97.4). Once two trials tie (failures aside) it is flat, as
  before: a stepped objective (an error rate, a tree that degenerates into one leaf over most of
  the box) hides its better configurations in corners a flat mean explores (RESULTS.md, "A
  bowl-shaped prior mean").
- Acquisition: log EI (incumbent: the smallest posterior mean at an observed point, which
  tolerates noise) over a scrambled Sobol set plus mutations of the best points (continuous
  coordinates perturbed, discrete ones re-drawn), or over every point of a small all-discrete
  space; the best few are refined by L-BFGS-B on their continuous coordinates (analytic gradient,
  discrete ones held at exact bin centres) and by a sweep over each discrete dimension's values.
  A point already evaluated or running is never proposed again, nor one whose discrete values
  match it and whose continuous coordinates are all within 1e-3 of it (in the unit cube).
- Parallel: running trials enter as fantasies (``_gp_ei.FantasyLogEI``): their values are drawn
  jointly from the posterior 32 times, and the acquisition is the mean over those draws of log
  EI's EI, each against the better of the observed incumbent and the drawn values. A point near
  a running trial gains little (that trial may already bring what it would), so ``n_workers=8``
  proposes eight different, spread-out points, on any output scale (the log transform included).
  It replaced a pessimistic kriging believer (each running trial believed at its posterior mean
  plus max(one SD, half an output SD)), whose penalty was tuned on the raw scale and so ruled out
  the log transform while trials ran. With 4 trials outstanding (peers benchmark, 10 seeds, 60
  trials) the believer kept 0.81 of the sequential score on BBOB and 0.94 on the synthetic
  functions; the draws keep 0.95 and 1.00 (RESULTS.md, "Running trials as fantasy draws").
  The initial design counts the trials in flight (``in_initial_design``): the model starts once
  ``n_startup`` trials are handed out and half have values, not one design point per worker later
  (4 outstanding on scikit-learn tasks: 0.91 -> 0.96 of the sequential score).
- Scale: with more than ``max_points`` scored and failed trials the model is fitted on a subset:
  the best fifth, the most recent fifth and a seeded random draw of the rest (the others are still
  never proposed again). Linear algebra runs on one BLAS thread (``one_blas_thread``).
- The first ``n_startup`` trials are the initial design: the centre of the space (``CENTRE_CLAIM``),
  then a scrambled Sobol sequence (skipping points whose config a trial already has, so a small
  discrete space is not repeated). Any failure of the model
  (e.g. all values equal) falls back to a random point and logs why on ``logging.getLogger("shoal")``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import math
import threading
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy.stats import qmc

from .._keywords import keywords
from ..direction import MAXIMIZE
from ..space import Space
from ..trial import Trial, TrialState
from . import _gp_math as gm
from ._gp_acquisition import Acquisition
from ._gp_ei import FantasyLogEI, LogEI
from ._gp_mean import fit_bowl
from ._gp_space import Encoder
from .base import Proposal, Sampler, SamplingContext
from .quasirandom import QuasiRandom

__all__ = ["GP", "Acquisition", "Fit", "candidate_points", "default_n_startup", "fit_targets",
           "init_gp_settings", "subset_indices"]

log = logging.getLogger("shoal")
_FIT_STREAM = 0x6770
_FALLBACK_STREAM = 0x67701
_N_LOCAL = 256
_ENUMERATE_UP_TO = 4096
#: Beyond this many fitted points the hyperparameters are fitted again (from the last fit, not the prior
#: mode) only once the fitted set has grown by ``REFIT_GROWTH`` since the last fit; in between, its output
#: transform and hyperparameters are reused (the posterior still conditions on every point). A few
#: points more move the marginal likelihood of hundreds little, and the fit is most of an ask's time:
#: at 300 trials a mean ask + tell of 162 ms instead of 663 ms, with the likelihood on kernel pairs
#: (RESULTS.md, "GP ask time at 300 trials").
REUSE_FROM = 100
REFIT_GROWTH = 1.05
#: The relative tolerance of those refits: they start from the last fit, near the optimum, and stopping
#: once a step gains less than 1e-5 of the penalized likelihood halves their evaluations (10 instead of
#: 19 at 316 points) for 0.02 nats; the posterior does not see the difference.
REFIT_FTOL = 1e-5
#: The claim of the initial design's first point, the centre of the unit cube (each dimension's middle
#: on its own scale: the geometric mean of a log range). People centre their ranges on the values they
#: believe in (a library's default, a paper's setting), so it is the one point of the cube most likely to
#: be good; Ax's default generation strategy and SMAC's initial design (the default configuration)
#: start there too. The claim makes every driver of a study see it taken.
CENTRE_CLAIM = "centre"


_controller: Any = None
_BLAS_LOCK = threading.Lock()  # one limit at a time, so concurrent asks restore the thread count


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Run BLAS on one thread: the GP's matrices (at most ``max_points`` rows) are too small to gain
    from threads, on a loaded machine idle BLAS threads spinning for work made a 20-trial ask ten
    times slower, and a threaded matrix product sums in another order, so the same seed would give
    other trials wherever BLAS got more threads (the reason threadpoolctl is a core dependency)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def warp(y: np.ndarray) -> np.ndarray:
    """Robust standardization of minimization targets: centred on the median, scaled by the
    interquartile range, the bad tail beyond 2 robust SDs compressed logarithmically and capped
    softly at 6 (a diverged run's 1e9 weighs little more than a merely bad value), then
    standardized. The good tail is kept as it is, so the depth of a narrow optimum still shows."""
    return warp_with_jacobian(y)[0]


def warp_with_jacobian(y: np.ndarray) -> tuple[np.ndarray, float]:
    """``warp(y)`` and the log of its Jacobian determinant, sum(log dz_i/dy_i) (the centre and
    scales held fixed), which puts likelihoods of differently transformed targets on one footing."""
    q75, q25 = np.percentile(y, [75, 25])
    scale = (q75 - q25) / 1.349
    if not scale > 0:
        scale = float(np.std(y)) or 1.0
    z = (y - np.median(y)) / scale
    tail = z > 2.0
    slope = np.ones_like(z)
    t = np.log1p(z[tail] - 2.0) / 4.0
    slope[tail] = 1.0 / (np.cosh(t) ** 2 * (z[tail] - 1.0))
    z[tail] = 2.0 + 4.0 * np.tanh(t)
    sd = z.std()
    sd = sd if sd > 0 else 1.0
    log_jac = float(np.sum(np.log(slope))) - len(y) * (math.log(scale) + math.log(sd))
    return (z - z.mean()) / sd, log_jac


def output_transforms(y: np.ndarray, allow_log: bool = True) -> list[tuple[str, np.ndarray, float]]:
    """(name, transformed targets, log Jacobian of the transform) to model the targets on: as they
    are, and their logarithm when all are positive and ``allow_log`` (multiplicative scales such as
    an ill-conditioned quadratic, whose values span orders of magnitude, are far smoother in log)."""
    out = [("identity", y, 0.0)]
    if allow_log and np.all(y > 0):
        out.append(("log", np.log(y), -float(np.sum(np.log(y)))))
    return out


def _score(trial: Trial) -> float | None:
    value = trial.value
    if value is None and trial.state == TrialState.PRUNED and trial.reports:
        value = trial.reports[-1][1]
    return None if value is None else float(value)


def _config_key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def default_n_startup(enc: Encoder) -> int:
    """Initial-design trials before a GP models: one more than the modelled dimensions, 5 to 10."""
    return min(10, max(5, enc.n_groups + 1))


def in_initial_design(n_scored: int, n_running: int, n_init: int) -> bool:
    """Whether the next proposal is an initial-design point: until ``n_init`` trials are scored or
    running and half of the design (rounded up) has values. Sequentially that is the first ``n_init``
    trials; with trials in flight the model starts as soon as the design is handed out and half of it
    is back (as Ax's default strategy does), instead of handing out one design point per worker
    beyond it (4 outstanding: three more random trials of the budget)."""
    return n_scored < n_init and (n_scored + n_running < n_init or n_scored < math.ceil(n_init / 2))


def _in_flight(context: SamplingContext) -> list[Trial]:
    """The running trials that hold a point (a trial being created holds none yet)."""
    return [t for t in context.running if t.config or t.unit]


def subset_indices(
    trials: Sequence[Trial], order_key: np.ndarray, rng: np.random.Generator, max_points: int
) -> np.ndarray:
    """Indices of at most ``max_points`` trials: the best fifth (smallest ``order_key``), the newest
    fifth and a seeded random draw of the rest."""
    n = len(trials)
    if n <= max_points:
        return np.arange(n)
    fifth = max_points // 5
    numbers = np.array([t.number for t in trials])
    keep = set(np.argsort(order_key, kind="stable")[:fifth].tolist())
    keep |= set(np.argsort(-numbers, kind="stable")[:fifth].tolist())
    rest = np.setdiff1d(np.arange(n), np.fromiter(keep, int))
    keep |= set(rng.choice(rest, size=max_points - len(keep), replace=False).tolist())
    return np.array(sorted(keep))


class Fit(NamedTuple):
    """What ``fit_targets`` found: the modelled targets and hyperparameters, the output transform, and
    the study's size when the hyperparameters were fitted (smaller than now when the last fit is reused)."""

    z: np.ndarray
    theta: np.ndarray
    transform: str
    fitted_on: int


def fit_targets(
    x: np.ndarray,
    y: np.ndarray,
    enc: Encoder,
    rng: np.random.Generator,
    cache: dict,
    key: tuple,
    *,
    refit: bool,
    allow_log: bool = True,
    warped: bool = True,
    warp_inputs: bool = False,
    seen: int | None = None,
) -> Fit:
    """The ``Fit`` (modelled targets, hyperparameters, ...) of minimization targets ``y`` at ``x``: of the
    output transforms (``output_transforms``), the one whose fit has the highest penalized marginal
    likelihood of the raw targets (Jacobian included), each robustly standardized (``warp``); with
    ``warped=False`` the targets are modelled as given (already standardized); ``warp_inputs`` fits an
    input warp of every numeric column with the kernel (``_gp_warp``). ``cache`` keeps the
    last fit under ``key + (n_groups, transform)`` as a warm start; ``refit`` also starts from the
    prior mode. Beyond ``REUSE_FROM`` points, the last fit is reused until the study has grown by
    ``REFIT_GROWTH`` since it: ``seen`` is the study's size (default: the points given), so a study
    fitted on a subset of ``max_points`` still refits as it grows."""
    transforms = output_transforms(y, allow_log=allow_log) if warped else [("given", y, 0.0)]
    seen = len(y) if seen is None else seen
    last = cache.get((*key, enc.n_groups, "last", allow_log))  # (study size, transform) of the last fit
    large = last is not None and len(y) > REUSE_FROM
    if large and seen < last[0] * REFIT_GROWTH:
        for name, transformed, _ in transforms:
            theta = cache.get((*key, enc.n_groups, name))
            if name == last[1] and theta is not None:
                return Fit(warp(transformed) if warped else transformed, theta, name, last[0])
    prior = gm.Prior.for_groups(enc.n_groups)
    pairs = gm.pair_sq_diffs(x, enc.groups, enc.n_groups)
    warp_cols = enc.warp_cols if warp_inputs and len(enc.warp_cols) else None
    n_warped = 0 if warp_cols is None else len(warp_cols)
    best: tuple[float, np.ndarray, np.ndarray, str] | None = None
    error: Exception | None = None
    for name, transformed, log_jac in transforms:
        z, warp_jac = warp_with_jacobian(transformed) if warped else (transformed, 0.0)
        cache_key = (*key, enc.n_groups, name)
        cached = cache.get(cache_key)
        starts = [cached] if cached is not None else []
        if cached is None or (refit and not large):
            starts.append(prior.mode(enc.n_groups, n_warped))
        try:
            theta = gm.fit_hyperparameters(x, z, rng, enc.groups, starts=starts, restarts=0, prior=prior,
                                          pairs=pairs, ftol=REFIT_FTOL if large else None,
                                          warp_cols=warp_cols)
        except np.linalg.LinAlgError as exc:  # one transform failing leaves the other
            error = exc
            continue
        cache[cache_key] = theta
        value = gm.penalized_nll(theta, x, pairs, z, prior, enc.groups, warp_cols) - warp_jac - log_jac
        if best is None or value < best[0]:
            best = (value, z, theta, name)
    if best is None:
        raise error or ValueError("no output transform could be fitted")
    cache[(*key, enc.n_groups, "last", allow_log)] = (seen, best[3])
    return Fit(best[1], best[2], best[3], seen)


def candidate_points(
    enc: Encoder, top: np.ndarray, rng: np.random.Generator, n_candidates: int
) -> np.ndarray:
    """Points to score: every point of a small all-discrete space, else ``n_candidates`` scrambled
    Sobol points plus mutations of the ``top`` points (continuous coordinates perturbed, discrete ones
    re-drawn)."""
    d = len(enc.dims)
    sizes = [enc.dims[j].n_values() or 1 for j in enc.discrete]
    if not enc.continuous and math.prod(sizes) <= _ENUMERATE_UP_TO:  # every point
        grid = np.full((math.prod(sizes), d), 0.5)
        values = [enc.centres(j) for j in enc.discrete]
        grid[:, enc.discrete] = np.array(list(itertools.product(*values)))
        return grid
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        sobol = qmc.Sobol(d, scramble=True, seed=rng).random(n_candidates)
    local = top[rng.integers(len(top), size=_N_LOCAL)].copy()
    sigma = rng.choice([0.01, 0.05, 0.2], size=(_N_LOCAL, 1))
    local += rng.normal(0.0, 1.0, local.shape) * sigma
    if enc.discrete:
        mutate = rng.random((_N_LOCAL, len(enc.discrete))) < 1.0 / len(enc.discrete)
        cols = local[:, enc.discrete]
        local[:, enc.discrete] = np.where(mutate, rng.random(cols.shape), cols)
    return np.vstack([sobol, np.clip(local, 0.0, 1.0)])


def init_gp_settings(
    sampler: Sampler, name: str, n_startup: int | None, n_candidates: int, max_points: int
) -> None:
    """Check and set what every GP sampler takes (``ValueError`` naming the sampler and the field),
    and give it its Sobol initial design and an empty encoder."""
    if n_startup is not None and (isinstance(n_startup, bool) or not isinstance(n_startup, int)
                                  or n_startup < 1):
        raise ValueError(f"{name}: n_startup must be an int >= 1 or None (auto), got {n_startup!r}")
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or n_candidates < 16:
        raise ValueError(f"{name}: n_candidates must be an int >= 16, got {n_candidates!r}")
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 20:
        raise ValueError(f"{name}: max_points must be an int >= 20, got {max_points!r}")
    sampler.n_startup = n_startup
    sampler.n_candidates = n_candidates
    sampler.max_points = max_points
    sampler._initial = QuasiRandom("sobol", seed=sampler.seed)
    sampler._encoder = None


class GPFamily(Sampler):
    """What the GP samplers share: an initial design seeded with them, and one encoder per space.
    ``start_at_centre``: whether the design's first point is the centre of the space;
    ``warp_inputs``: whether the models fit an input warp per numeric column (``_gp_warp``)."""

    start_at_centre = True
    warp_inputs = False

    def with_seed(self, seed: int | None) -> Sampler:
        super().with_seed(seed)
        self._initial.with_seed(seed)
        return self

    def _encoder_for(self, space: Space) -> Encoder:
        if self._encoder is None or self._encoder.space is not space:
            self._encoder = Encoder(space)
        return self._encoder

    def initial_proposal(self, context: SamplingContext, n_scored: int, n_init: int) -> Proposal:
        """A point of the initial design: the centre of the space first (with ``start_at_centre``,
        unless a trial of the study already holds it or its config, e.g. an enqueued one), then the
        Sobol sequence, skipping configs already tried. See ``CENTRE_CLAIM``."""
        progress = f"{n_scored} of {n_init} trials with values"
        tried = {_config_key(t.config) for t in context.trials}

        def repeats(unit: np.ndarray) -> bool:
            return _config_key(context.space.decode(unit)[0]) in tried

        centre = np.full(len(context.space), 0.5)
        if (self.start_at_centre and not any(t.claim == CENTRE_CLAIM for t in context.trials)
                and not repeats(centre)):
            return Proposal(centre, claim=CENTRE_CLAIM,
                            extra={"why": f"initial design: the centre of the space ({progress})"})
        proposal = self._initial.propose_unrepeated(context, repeats)
        return dataclasses.replace(proposal, extra={"why": f"initial Sobol design ({progress})"})


@keywords(renamed={"n_initial": "n_startup"})
class GP(GPFamily):
    """Gaussian-process BO with log expected improvement (see the module docstring).

    - ``n_startup``: initial-design trials before the model starts, the centre of the space and then
      Sobol points (default: one more than the number of modelled dimensions, at least 5 and at most 10);
      with trials in flight, the model starts once they are all handed out and half have values.
    - ``n_candidates`` (1024): Sobol candidates scored per proposal.
    - ``max_points`` (500): the most trials the model is fitted on.
    """

    def __init__(
        self,
        n_startup: int | None = None,
        n_candidates: int = 1024,
        *,
        max_points: int = 500,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        init_gp_settings(self, "GP", n_startup, n_candidates, max_points)
        self._theta: dict[tuple[str, int], np.ndarray] = {}  # last fit per study: a warm start

    # -- proposing -----------------------------------------------------------------------------
    def propose(self, context: SamplingContext) -> Proposal:
        enc = self._encoder_for(context.space)
        scored = [t for t in context.history if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
                  and _score(t) is not None]
        n_init = self.n_startup if self.n_startup is not None else default_n_startup(enc)
        if in_initial_design(len(scored), len(_in_flight(context)), n_init):
            proposal = self.initial_proposal(context, len(scored), n_init)
            return dataclasses.replace(proposal, extra={**proposal.extra, "sampler": "gp"})
        failed = [t for t in context.history if t.state == TrialState.FAILED]
        try:
            with _BLAS_LOCK, one_blas_thread():
                unit, why = self._model_point(context, enc, scored + failed, len(scored))
            return Proposal(unit, extra={"sampler": "gp", "why": why})
        except Exception as exc:  # never crash a study over the model
            log.warning("GP: falling back to a random proposal for trial %d: %s: %s",
                        context.trial_number, type(exc).__name__, exc)
            unit = self.rng_for(context, _FALLBACK_STREAM).random(len(context.space))
            why = f"random: {type(exc).__name__}: {exc}"
            return Proposal(unit, extra={"sampler": "gp-fallback", "why": why})

    def _targets(self, trials: Sequence[Trial], n_scored: int, maximize: bool) -> np.ndarray:
        """Minimization targets: failed and non-finite trials tie with the worst finite value."""
        y = np.array([_score(t) if i < n_scored else math.nan for i, t in enumerate(trials)], dtype=float)
        if maximize:
            y = -y
        finite = np.isfinite(y)
        if not finite.any():
            raise ValueError("no trial has a finite value (non-finite objective values only)")
        y[~finite] = y[finite].max()
        if np.ptp(y) == 0:
            raise ValueError("all observed values are equal")
        return y

    def _subset(self, trials: list[Trial], y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Indices of at most ``max_points`` trials: best fifth, newest fifth, random rest."""
        return subset_indices(trials, y, rng, self.max_points)

    def _model_point(
        self, context: SamplingContext, enc: Encoder, trials: list[Trial], n_scored: int
    ) -> tuple[np.ndarray, str]:
        rng = self.rng_for(context, _FIT_STREAM)
        y = self._targets(trials, n_scored, context.direction == MAXIMIZE)
        idx = self._subset(trials, y, rng)
        u_obs, act_obs = enc.from_trials([trials[i] for i in idx])
        x = enc.features(u_obs, act_obs)
        z, theta, transform, fitted_on = self._fit(context, enc, x, y[idx], rng, len(trials))
        post = gm.Posterior(x, z, theta, enc.groups, enc.warp_cols)
        bowl = bool(enc.feature_of) and not _values_tie(trials, n_scored)  # ties: a stepped objective
        if bowl:
            post = post.with_mean(fit_bowl(post.linv, x, z, np.array(sorted(enc.feature_of.values()))))
        best = float(post.predict(x)[0].min())  # the incumbent as the model sees it (noise-robust)
        tried = u_obs
        pending = _in_flight(context)
        acquisition: Acquisition = LogEI(enc, post, best, rng)
        if pending:
            u_p, act_p = enc.from_trials(pending)
            acquisition = FantasyLogEI.of_running(enc, post, z, enc.features(u_p, act_p), best, rng)
            tried = np.vstack([tried, u_p])
        if len(idx) < len(trials):  # the points left out of the fit must not be proposed again
            u_all, _ = enc.from_trials(trials)
            tried = np.vstack([tried, u_all])
        unit = acquisition.maximize(
            self._candidates(enc, u_obs[np.argsort(z, kind="stable")[:5]], rng), tried)
        return unit, _why(len(idx), len(trials), transform, fitted_on, len(pending), bowl)

    def _fit(self, context: SamplingContext, enc: Encoder, x: np.ndarray, y: np.ndarray,
             rng: np.random.Generator, seen: int | None = None) -> Fit:
        """(warped targets, hyperparameters) of the output transform (``output_transforms``) whose
        fit has the highest penalized marginal likelihood of the raw targets (Jacobian included)."""
        return fit_targets(x, y, enc, rng, self._theta, (context.study_name,),
                           refit=context.trial_number % 10 == 0, warp_inputs=self.warp_inputs, seen=seen)

    def _candidates(self, enc: Encoder, top: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return candidate_points(enc, top, rng, self.n_candidates)

    def describe(self) -> str:
        return (f"GP(n_startup={self.n_startup}, n_candidates={self.n_candidates}, "
                f"max_points={self.max_points}, seed={self.seed})")


def _values_tie(trials: Sequence[Trial], n_scored: int) -> bool:
    """Whether two of the first ``n_scored`` trials have the same finite value (failures aside)."""
    values = np.array([_score(t) for t in trials[:n_scored]], dtype=float)
    values = values[np.isfinite(values)]
    return bool(np.unique(values).size < values.size)


def _why(points: int, seen: int, transform: str, fitted_on: int, running: int, bowl: bool) -> str:
    """What a model proposal says of itself, e.g. "log EI of a GP on 40 trials (outputs in log; bowl
    mean; 3 running trials as fantasies)"."""
    notes = ["outputs in log" if transform == "log" else "outputs as they are",
             "bowl mean" if bowl else "flat mean"]
    if fitted_on != seen:
        notes.append(f"hyperparameters fitted at {fitted_on} trials")
    if running:
        notes.append(f"{running} running trial{'s' if running > 1 else ''} as fantasies")
    of = f"{points} of {seen}" if points != seen else str(points)
    return f"log EI of a GP on {of} trials ({'; '.join(notes)})"
