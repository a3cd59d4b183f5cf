"""A subset of the COCO BBOB noiseless functions, written in numpy from their published definitions.

``cocoex`` is not installable here, so these follow Hansen et al., "Real-Parameter Black-Box
Optimization Benchmarking 2009: Noiseless Functions Definitions" (INRIA RR-6829): f1 sphere,
f2 separable ellipsoid, f3 separable Rastrigin, f6 attractive sector, f8 Rosenbrock, f10 rotated
ellipsoid, f12 bent cigar, f15 rotated Rastrigin and f17 Schaffers F7, on [-5, 5]^d. An instance
draws its optimum ``xopt`` (uniform in [-4, 4]^d, [-3, 3]^d for f8) and its rotations from a seed;
``fopt`` is 0, since the scores are relative to other runs on the same instance. The table runs f8,
f10, f15 and f17; the others are tasks outside it (``tasks.BBOB_DEFAULT``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

FUNCTIONS = {1: "sphere", 2: "ellipsoid", 3: "rastrigin", 6: "attractive-sector", 8: "rosenbrock",
             10: "ellipsoid-rot", 12: "bent-cigar", 15: "rastrigin-rot", 17: "schaffers-f7"}


def t_osz(x: np.ndarray) -> np.ndarray:
    """The oscillation transformation T_osz, element-wise."""
    xhat = np.where(x != 0, np.log(np.abs(x) + (x == 0)), 0.0)
    c1 = np.where(x > 0, 10.0, 5.5)
    c2 = np.where(x > 0, 7.9, 3.1)
    return np.sign(x) * np.exp(xhat + 0.049 * (np.sin(c1 * xhat) + np.sin(c2 * xhat)))


def t_asy(x: np.ndarray, beta: float) -> np.ndarray:
    """The asymmetry transformation T_asy^beta: x_i ** (1 + beta * (i-1)/(d-1) * sqrt(x_i)) where x_i > 0."""
    d = len(x)
    ramp = np.arange(d) / max(d - 1, 1)
    positive = np.maximum(x, 0.0)
    return np.where(x > 0, positive ** (1 + beta * ramp * np.sqrt(positive)), x)


def conditioning(d: int, alpha: float) -> np.ndarray:
    """The diagonal of Lambda^alpha: alpha ** (0.5 * (i-1)/(d-1))."""
    return alpha ** (0.5 * np.arange(d) / max(d - 1, 1))


def f_pen(x: np.ndarray) -> float:
    """The boundary penalty: sum of max(0, |x_i| - 5)^2."""
    return float(np.sum(np.maximum(0.0, np.abs(x) - 5.0) ** 2))


def rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix (Gram-Schmidt of a standard normal matrix, as COCO does)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True)
class Instance:
    """One BBOB function instance: ``fid``, dimension, optimum and rotations."""

    fid: int
    dim: int
    xopt: np.ndarray
    r: np.ndarray
    q: np.ndarray

    def __call__(self, x: np.ndarray) -> float:
        return float(_EVAL[self.fid](self, np.asarray(x, dtype=float)))


def make_instance(fid: int, dim: int, instance: int = 1) -> Instance:
    """Instance ``instance`` of function ``fid`` in ``dim`` dimensions, fixed by those three numbers."""
    if fid not in FUNCTIONS:
        raise ValueError(f"fid must be one of {sorted(FUNCTIONS)}, got {fid!r}")
    if dim < 2:
        raise ValueError(f"dim must be >= 2, got {dim!r}")
    rng = np.random.default_rng([fid, dim, instance])
    bound = 3.0 if fid == 8 else 4.0
    xopt = rng.uniform(-bound, bound, dim)
    return Instance(fid, dim, xopt, rotation(dim, rng), rotation(dim, rng))


def _sphere(f: Instance, x: np.ndarray) -> float:
    return np.sum((x - f.xopt) ** 2)


def _ellipsoid_weights(d: int) -> np.ndarray:
    return 10.0 ** (6.0 * np.arange(d) / max(d - 1, 1))


def _ellipsoid(f: Instance, x: np.ndarray) -> float:
    z = t_osz(x - f.xopt)
    return np.sum(_ellipsoid_weights(f.dim) * z**2)


def _rastrigin_terms(z: np.ndarray) -> float:
    return 10.0 * (len(z) - np.sum(np.cos(2 * np.pi * z))) + np.sum(z**2)


def _rastrigin(f: Instance, x: np.ndarray) -> float:
    return _rastrigin_terms(conditioning(f.dim, 10.0) * t_asy(t_osz(x - f.xopt), 0.2))


def _attractive_sector(f: Instance, x: np.ndarray) -> float:
    z = f.q @ (conditioning(f.dim, 10.0) * (f.r @ (x - f.xopt)))
    s = np.where(z * f.xopt > 0, 100.0, 1.0)
    return t_osz(np.array([np.sum((s * z) ** 2)]))[0] ** 0.9


def _bent_cigar(f: Instance, x: np.ndarray) -> float:
    z = f.r @ t_asy(f.r @ (x - f.xopt), 0.5)
    return z[0] ** 2 + 1e6 * np.sum(z[1:] ** 2)


def _rosenbrock(f: Instance, x: np.ndarray) -> float:
    z = max(1.0, np.sqrt(f.dim) / 8.0) * (x - f.xopt) + 1.0
    return np.sum(100.0 * (z[:-1] ** 2 - z[1:]) ** 2 + (z[:-1] - 1.0) ** 2)


def _ellipsoid_rot(f: Instance, x: np.ndarray) -> float:
    z = t_osz(f.r @ (x - f.xopt))
    return np.sum(_ellipsoid_weights(f.dim) * z**2)


def _rastrigin_rot(f: Instance, x: np.ndarray) -> float:
    z = f.r @ (conditioning(f.dim, 10.0) * (f.q @ t_asy(t_osz(f.r @ (x - f.xopt)), 0.2)))
    return _rastrigin_terms(z)


def _schaffers(f: Instance, x: np.ndarray) -> float:
    z = conditioning(f.dim, 10.0) * (f.q @ t_asy(f.r @ (x - f.xopt), 0.5))
    s = np.sqrt(z[:-1] ** 2 + z[1:] ** 2)
    inner = np.mean(np.sqrt(s) + np.sqrt(s) * np.sin(50.0 * s**0.2) ** 2)
    return inner**2 + 10.0 * f_pen(x)


_EVAL: dict[int, Callable[[Instance, np.ndarray], float]] = {
    1: _sphere,
    2: _ellipsoid,
    3: _rastrigin,
    6: _attractive_sector,
    8: _rosenbrock,
    10: _ellipsoid_rot,
    12: _bent_cigar,
    15: _rastrigin_rot,
    17: _schaffers,
}
