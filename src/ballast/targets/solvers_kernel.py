"""Compiled solvers behind the risk targets: equal risk contribution and long-only minimum variance.

Both take a covariance matrix and a warm start (yesterday's solution along a path), so a path
of daily solutions costs a few sweeps per day.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

ERC_TOL = 1e-10  # relative error allowed in each yᵢ(Σy)ᵢ = bᵢ
MINVAR_TOL = 1e-13  # KKT gap allowed, relative to the average variance
MAX_SWEEPS = 20000
CCD_SWEEPS = 200
NEWTON_STEPS = 100


@njit(cache=True)
def cholesky_solve(A, rhs):
    """Solve A·x = rhs for symmetric positive definite A (rhs 2-D) by Cholesky.

    Returns (False, rhs) when A is not numerically positive definite (a singular sample
    covariance). Plain loops: for N ≈ 100 as fast as LAPACK through numba, and it compiles in a
    second where numba's np.linalg.solve takes fifteen.
    """
    n = A.shape[0]
    L = np.zeros((n, n))
    for j in range(n):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 1e-13 * abs(A[j, j]):
            return False, rhs
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, n):
            s = A[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / L[j, j]
    x = rhs.copy()
    for c in range(x.shape[1]):
        for i in range(n):
            s = x[i, c]
            for k in range(i):
                s -= L[i, k] * x[k, c]
            x[i, c] = s / L[i, i]
        for i in range(n - 1, -1, -1):
            s = x[i, c]
            for k in range(i + 1, n):
                s -= L[k, i] * x[k, c]
            x[i, c] = s / L[i, i]
    return True, x


@njit(cache=True)
def _erc_objective(S, b, y):
    f = 0.0
    for i in range(y.shape[0]):
        if y[i] <= 0.0:
            return np.inf
        acc = 0.0
        for j in range(y.shape[0]):
            acc += S[i, j] * y[j]
        f += 0.5 * y[i] * acc - b[i] * math.log(y[i])
    return f


@njit(cache=True)
def _erc_newton(S, b, y):
    """One damped Newton step on ½yᵀΣy − Σbᵢ ln yᵢ (Hessian Σ + diag(b/y²), positive definite)."""
    n = y.shape[0]
    H = S.copy()
    grad = np.empty((n, 1))
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += S[i, j] * y[j]
        grad[i, 0] = acc - b[i] / y[i]
        H[i, i] += b[i] / (y[i] * y[i])
    ok, sol = cholesky_solve(H, grad)
    if not ok:
        return
    d = sol[:, 0]
    f0 = _erc_objective(S, b, y)
    e0 = _erc_error(S, b, y)
    step = 1.0
    trial = np.empty(n)
    for _ in range(60):
        for i in range(n):
            trial[i] = y[i] - step * d[i]
        # Far from the optimum the objective guards the step; near it, where the objective is
        # flat to rounding, the residual of the optimality condition does.
        if _erc_objective(S, b, trial) < f0 or _erc_error(S, b, trial) < e0:
            y[:] = trial
            return
        step *= 0.5


@njit(cache=True)
def _erc_error(S, b, y):
    worst = 0.0
    for i in range(y.shape[0]):
        acc = 0.0
        for j in range(y.shape[0]):
            acc += S[i, j] * y[j]
        worst = max(worst, abs(y[i] * acc - b[i]) / b[i])
    return worst


@njit(cache=True)
def erc_solve(S, b, y, tol):
    """Equal-risk-contribution (risk-budget ``b``) weights: minimise ½yᵀΣy − Σ bᵢ ln yᵢ.

    The problem is strictly convex; at its optimum yᵢ(Σy)ᵢ = bᵢ, so w = y/Σy has risk
    contributions wᵢ(Σw)ᵢ/wᵀΣw = bᵢ/Σb. Cyclical coordinate descent first — each step solves
    Σᵢᵢyᵢ² + cᵢyᵢ − bᵢ = 0 exactly, O(N) (Griveau-Billion, Richard & Roncalli 2013); from a warm
    start (yesterday's solution) a few sweeps converge. If ``CCD_SWEEPS`` sweeps do not (an
    ill-conditioned Σ), damped Newton steps finish the job quadratically. ``y`` is the warm start,
    updated in place. Returns the number of iterations, or −1 without convergence.
    """
    n = b.shape[0]
    sy = np.zeros(n)  # Σy, kept up to date
    for i in range(n):
        for j in range(n):
            sy[i] += S[i, j] * y[j]
    for sweep in range(CCD_SWEEPS):
        for i in range(n):
            c = sy[i] - S[i, i] * y[i]
            new = (-c + math.sqrt(c * c + 4.0 * S[i, i] * b[i])) / (2.0 * S[i, i])
            d = new - y[i]
            if d != 0.0:
                y[i] = new
                for j in range(n):
                    sy[j] += S[j, i] * d
        worst = 0.0
        for i in range(n):
            worst = max(worst, abs(y[i] * sy[i] - b[i]) / b[i])
        if worst <= tol:
            return sweep + 1
    for it in range(NEWTON_STEPS):
        _erc_newton(S, b, y)
        if _erc_error(S, b, y) <= tol:
            return CCD_SWEEPS + it + 1
    return -1


@njit(cache=True)
def _newton_free(S, lo, hi, w):
    """Move ``w`` towards the exact minimiser with the current active set, staying feasible.

    Assets strictly inside their bounds are free; the minimiser of wᵀΣw over the free assets
    (others fixed, Σw = 1) is λΣ_FF⁻¹1 − Σ_FF⁻¹Σ_FA w_A. The step is cut at the first bound it
    reaches (a ratio test), so it only ever lowers the objective; when the active set is right
    (the usual case from a warm start) it lands on the optimum and SMO has nothing left to do.
    """
    n = w.shape[0]
    eps = 1e-15
    free = np.empty(n, np.int64)
    nf = 0
    for i in range(n):
        if lo[i] + eps < w[i] < hi[i] - eps:
            free[nf] = i
            nf += 1
    if nf < 2:
        return
    A = np.empty((nf, nf))
    rhs = np.zeros((nf, 2))
    budget = 1.0
    isfree = np.zeros(n, np.bool_)
    for a in range(nf):
        isfree[free[a]] = True
    for i in range(n):
        if not isfree[i]:
            budget -= w[i]
    for a in range(nf):
        i = free[a]
        rhs[a, 0] = 1.0
        for b in range(nf):
            A[a, b] = S[i, free[b]]
        for j in range(n):
            if not isfree[j]:
                rhs[a, 1] += S[i, j] * w[j]
    ok, sol = cholesky_solve(A, rhs)
    if not ok:  # singular Σ_FF (sample covariance with more assets than returns)
        return
    sx = 0.0
    sz = 0.0
    for a in range(nf):
        sx += sol[a, 0]
        sz += sol[a, 1]
    if not (abs(sx) > 0.0) or not np.isfinite(sx) or not np.isfinite(sz):
        return
    lam = (budget + sz) / sx
    alpha = 1.0
    for a in range(nf):
        i = free[a]
        d = lam * sol[a, 0] - sol[a, 1] - w[i]
        if d > 0.0:
            alpha = min(alpha, (hi[i] - w[i]) / d)
        elif d < 0.0:
            alpha = min(alpha, (lo[i] - w[i]) / d)
    for a in range(nf):
        i = free[a]
        v = w[i] + alpha * (lam * sol[a, 0] - sol[a, 1] - w[i])
        w[i] = lo[i] if v < lo[i] else (hi[i] if v > hi[i] else v)


@njit(cache=True)
def minvar_solve(S, lo, hi, w, tol):
    """Long-only minimum variance min wᵀΣw, Σw = 1, lo ≤ w ≤ hi, by pairwise (SMO) steps.

    ``w`` must be feasible on entry (the warm start) and is updated in place. A Newton step on
    the current free set comes first (``_newton_free``); then each SMO step takes
    the maximal KKT-violating pair — i that may grow with the smallest gradient, j that may
    shrink with the largest — and moves weight from j to i by the exact 1-D minimiser, clipped
    to the bounds. Stops when the KKT gap maxⱼ (Σw)ⱼ − minᵢ (Σw)ᵢ ≤ ``tol``.
    Returns the number of steps, or −1 without convergence.
    """
    n = w.shape[0]
    _newton_free(S, lo, hi, w)
    grad = np.zeros(n)  # Σw (half the gradient of wᵀΣw), kept up to date
    for i in range(n):
        for j in range(n):
            grad[i] += S[i, j] * w[j]
    eps = 1e-15
    for step in range(MAX_SWEEPS * n):
        gi = np.inf
        gj = -np.inf
        bi = -1
        bj = -1
        for k in range(n):
            if w[k] < hi[k] - eps and grad[k] < gi:
                gi = grad[k]
                bi = k
            if w[k] > lo[k] + eps and grad[k] > gj:
                gj = grad[k]
                bj = k
        if bi < 0 or bj < 0 or gj - gi <= tol:
            return step
        curv = S[bi, bi] + S[bj, bj] - 2.0 * S[bi, bj]
        room = min(hi[bi] - w[bi], w[bj] - lo[bj])
        d = room if curv <= 0.0 else min(room, (gj - gi) / curv)
        w[bi] += d
        w[bj] -= d
        for k in range(n):
            grad[k] += d * (S[k, bi] - S[k, bj])
    return -1
