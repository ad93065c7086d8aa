"""Compiled estimators and solvers behind the risk-based targets (targets/risk.py).

Every path function walks time once. The window at t is the ``L`` simple returns of rows
t−L+1..t (row 0 has no return), so row t never reads a price after t. Window moments are kept
as running sums (a rank-one update in and one out per period, O(N²)) and recomputed from the
window every ``L`` periods so rounding cannot accumulate; the refresh depends only on t, so the
path computed on the first t+1 rows is bit-for-bit the path computed on all rows, cut at t.

Covariance estimators (``SHRINK_*``):
- none: sample covariance, ddof = 1 (pandas, bt);
- Ledoit–Wolf: scikit-learn's ``ledoit_wolf`` — biased sample covariance shrunk towards
  μ·I, μ = trace/N, with the optimal intensity of Ledoit & Wolf (2004);
- constant correlation: Ledoit & Wolf (2003) "Honey, I shrunk the sample covariance matrix" —
  biased sample covariance shrunk towards the matrix with the average sample correlation.
The fourth-moment sums the shrinkage intensities need are expanded around the window mean
(see ``_shrunk``), which keeps everything a running sum.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from ballast.enums import SHRINK_CONSTANT_CORRELATION, SHRINK_LEDOIT_WOLF, SHRINK_NONE


METHOD_RISK_PARITY = 0
METHOD_MIN_VARIANCE = 1

ERC_TOL = 1e-10  # relative error allowed in each yᵢ(Σy)ᵢ = bᵢ
MINVAR_TOL = 1e-13  # KKT gap allowed, relative to the average variance
MAX_SWEEPS = 20000
CCD_SWEEPS = 200
NEWTON_STEPS = 100


@njit(cache=True)
def _add_row(r, s, cc, M2, M21, M31, s1, s2, s3, s4, u, acc):  # noqa: ANN001
    """Add (s = 1) or remove (s = −1) one return row from the running window sums."""
    n = r.shape[0]
    a = 0.0
    for i in range(n):
        a += r[i] * r[i]
    acc[0] += s * a
    acc[1] += s * a * a
    for i in range(n):
        ri = r[i]
        c1 = s * ri
        c2 = c1 * ri
        c3 = c2 * ri
        s1[i] += c1
        s2[i] += c2
        u[i] += a * c1
        if cc:
            s3[i] += c3
            s4[i] += c3 * ri
            for j in range(n):
                M2[i, j] += c1 * r[j]
                M21[i, j] += c2 * r[j]
                M31[i, j] += c3 * r[j]
        else:
            for j in range(n):
                M2[i, j] += c1 * r[j]


@njit(cache=True)
def _clear(M2, M21, M31, s1, s2, s3, s4, u, acc):  # noqa: ANN001
    M2[:] = 0.0
    M21[:] = 0.0
    M31[:] = 0.0
    s1[:] = 0.0
    s2[:] = 0.0
    s3[:] = 0.0
    s4[:] = 0.0
    u[:] = 0.0
    acc[:] = 0.0


@njit(cache=True)
def _shrunk(L, kind, M2, M21, M31, s1, s2, s3, s4, u, acc, S):  # noqa: ANN001
    """Covariance estimate of the current window into ``S``; returns the shrinkage intensity.

    With y = r − m (m the window mean) the sums needed are expanded in raw power sums:
    Σₖ‖yₖ‖⁴ from Σ‖r‖⁴, Σ‖r‖²r, Σrrᵀ, Σr; Σₖ yᵢ⁴ and Σₖ yᵢ³yⱼ likewise (constant
    correlation).
    """
    n = s1.shape[0]
    m = s1 / L
    for i in range(n):
        for j in range(n):
            S[i, j] = (M2[i, j] - L * m[i] * m[j])  # Σ y yᵀ
    if kind == SHRINK_NONE:
        for i in range(n):
            for j in range(n):
                S[i, j] /= L - 1
        return 0.0
    for i in range(n):
        for j in range(n):
            S[i, j] /= L  # biased sample covariance
    # Σₖ ‖yₖ‖⁴ with ‖yₖ‖² = aₖ − 2 bₖ + c, aₖ = ‖rₖ‖², bₖ = rₖ·m, c = ‖m‖².
    c = 0.0
    mu_ = 0.0
    sb = 0.0
    for i in range(n):
        c += m[i] * m[i]
        mu_ += m[i] * u[i]
        sb += m[i] * s1[i]
    sbb = 0.0
    for i in range(n):
        for j in range(n):
            sbb += m[i] * M2[i, j] * m[j]
    sum_p = acc[1] + 4.0 * sbb + L * c * c - 4.0 * mu_ + 2.0 * c * acc[0] - 4.0 * c * sb
    fro2 = 0.0
    for i in range(n):
        for j in range(n):
            fro2 += S[i, j] * S[i, j]
    if kind == SHRINK_LEDOIT_WOLF:
        tr = 0.0
        for i in range(n):
            tr += S[i, i]
        mu = tr / n
        beta = (sum_p / L - fro2) / (n * L)
        delta = (fro2 - 2.0 * mu * tr + n * mu * mu) / n
        beta = min(beta, delta)
        sh = 0.0 if beta <= 0.0 else beta / delta
        for i in range(n):
            for j in range(n):
                S[i, j] *= 1.0 - sh
            S[i, i] += sh * mu
        return sh
    # Constant correlation (Ledoit & Wolf 2003).
    sd = np.empty(n)
    for i in range(n):
        sd[i] = math.sqrt(S[i, i])
    rbar = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                rbar += S[i, j] / (sd[i] * sd[j])
    rbar /= n * (n - 1)
    pi_hat = sum_p / L - fro2
    rho = 0.0
    for i in range(n):
        a = m[i]
        y4 = s4[i] - 4 * a * s3[i] + 6 * a * a * s2[i] - 4 * a * a * a * s1[i] + L * a ** 4
        rho += y4 / L - S[i, i] * S[i, i]
    th = 0.0
    gamma = 0.0
    for i in range(n):
        a = m[i]
        for j in range(n):
            if i == j:
                continue
            b = m[j]
            y31 = (M31[i, j] - b * s3[i] - 3 * a * M21[i, j] + 3 * a * b * s2[i] + 3 * a * a * M2[i, j]
                   - 3 * a * a * b * s1[i] - a ** 3 * s1[j] + L * a ** 3 * b)
            theta = y31 / L - S[i, i] * S[i, j]
            th += sd[j] / sd[i] * theta
            f = rbar * sd[i] * sd[j]
            gamma += (S[i, j] - f) ** 2
    rho += rbar * th
    sh = 0.0
    if gamma > 0.0:
        sh = min(1.0, max(0.0, (pi_hat - rho) / gamma / L))
    for i in range(n):
        for j in range(n):
            if i != j:
                S[i, j] = sh * rbar * sd[i] * sd[j] + (1.0 - sh) * S[i, j]
    return sh


@njit(cache=True)
def _solve(A, rhs):  # noqa: ANN001
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
def _erc_objective(S, b, y):  # noqa: ANN001
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
def _erc_newton(S, b, y):  # noqa: ANN001
    """One damped Newton step on ½yᵀΣy − Σbᵢ ln yᵢ (Hessian Σ + diag(b/y²), positive definite)."""
    n = y.shape[0]
    H = S.copy()
    g = np.empty((n, 1))
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += S[i, j] * y[j]
        g[i, 0] = acc - b[i] / y[i]
        H[i, i] += b[i] / (y[i] * y[i])
    ok, sol = _solve(H, g)
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
def _erc_error(S, b, y):  # noqa: ANN001
    worst = 0.0
    for i in range(y.shape[0]):
        acc = 0.0
        for j in range(y.shape[0]):
            acc += S[i, j] * y[j]
        worst = max(worst, abs(y[i] * acc - b[i]) / b[i])
    return worst


@njit(cache=True)
def erc_solve(S, b, y, tol):  # noqa: ANN001
    """Equal-risk-contribution (risk-budget ``b``) weights: minimise ½yᵀΣy − Σ bᵢ ln yᵢ.

    The problem is strictly convex; at its optimum yᵢ(Σy)ᵢ = bᵢ, so w = y/Σy has risk
    contributions wᵢ(Σw)ᵢ/wᵀΣw = bᵢ/Σb. Cyclical coordinate descent first — each step solves
    Σᵢᵢyᵢ² + cᵢyᵢ − bᵢ = 0 exactly, O(N) (Griveau-Billion, Richard & Roncalli 2013); from a warm
    start (yesterday's solution) a few sweeps converge. If ``CCD_SWEEPS`` sweeps do not (an
    ill-conditioned Σ), damped Newton steps finish the job quadratically. ``y`` is the warm start,
    updated in place. Returns the number of iterations, or −1 without convergence.
    """
    n = b.shape[0]
    g = np.zeros(n)
    for i in range(n):
        for j in range(n):
            g[i] += S[i, j] * y[j]
    for sweep in range(CCD_SWEEPS):
        for i in range(n):
            c = g[i] - S[i, i] * y[i]
            new = (-c + math.sqrt(c * c + 4.0 * S[i, i] * b[i])) / (2.0 * S[i, i])
            d = new - y[i]
            if d != 0.0:
                y[i] = new
                for j in range(n):
                    g[j] += S[j, i] * d
        worst = 0.0
        for i in range(n):
            worst = max(worst, abs(y[i] * g[i] - b[i]) / b[i])
        if worst <= tol:
            return sweep + 1
    for it in range(NEWTON_STEPS):
        _erc_newton(S, b, y)
        if _erc_error(S, b, y) <= tol:
            return CCD_SWEEPS + it + 1
    return -1


@njit(cache=True)
def _newton_free(S, lo, hi, w):  # noqa: ANN001
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
    ok, sol = _solve(A, rhs)
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
def minvar_solve(S, lo, hi, w, tol):  # noqa: ANN001
    """Long-only minimum variance min wᵀΣw, Σw = 1, lo ≤ w ≤ hi, by pairwise (SMO) steps.

    ``w`` must be feasible on entry (the warm start) and is updated in place. A Newton step on
    the current free set comes first (``_newton_free``); then each SMO step takes
    the maximal KKT-violating pair — i that may grow with the smallest gradient, j that may
    shrink with the largest — and moves weight from j to i by the exact 1-D minimiser, clipped
    to the bounds. Stops when the KKT gap maxⱼ gⱼ − minᵢ gᵢ ≤ ``tol`` (g = Σw, up to 2).
    Returns the number of steps, or −1 without convergence.
    """
    n = w.shape[0]
    _newton_free(S, lo, hi, w)
    g = np.zeros(n)
    for i in range(n):
        for j in range(n):
            g[i] += S[i, j] * w[j]
    eps = 1e-15
    for step in range(MAX_SWEEPS * n):
        gi = np.inf
        gj = -np.inf
        bi = -1
        bj = -1
        for k in range(n):
            if w[k] < hi[k] - eps and g[k] < gi:
                gi = g[k]
                bi = k
            if w[k] > lo[k] + eps and g[k] > gj:
                gj = g[k]
                bj = k
        if bi < 0 or bj < 0 or gj - gi <= tol:
            return step
        curv = S[bi, bi] + S[bj, bj] - 2.0 * S[bi, bj]
        room = min(hi[bi] - w[bi], w[bj] - lo[bj])
        d = room if curv <= 0.0 else min(room, (gj - gi) / curv)
        w[bi] += d
        w[bj] -= d
        for k in range(n):
            g[k] += d * (S[k, bi] - S[k, bj])
    return -1


@njit(cache=True)
def risk_path(R, L, shrink, method, lo, hi, warm, out):  # noqa: ANN001
    """Risk parity or minimum variance weights for every t (rows of ``out``).

    ``R`` holds the universe's simple returns (row 0 unused). Rows t < L get ``warm`` (the
    warm-up weights). Returns (−1, −1) or the (t, asset) where an asset's window variance is
    zero, which makes both problems ill-posed.
    """
    T, n = R.shape
    M2 = np.zeros((n, n))
    cc = shrink == SHRINK_CONSTANT_CORRELATION
    M21 = np.zeros((n, n)) if cc else np.zeros((1, 1))
    M31 = np.zeros((n, n)) if cc else np.zeros((1, 1))
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    s3 = np.zeros(n)
    s4 = np.zeros(n)
    u = np.zeros(n)
    acc = np.zeros(2)
    S = np.empty((n, n))
    b = np.ones(n)
    y = np.zeros(n)
    w = warm.copy()
    started = False
    for t in range(T):
        if t >= 1:
            if t >= L and t % L == 0:
                _clear(M2, M21, M31, s1, s2, s3, s4, u, acc)
                for k in range(t - L + 1, t + 1):
                    _add_row(R[k], 1.0, cc, M2, M21, M31, s1, s2, s3, s4, u, acc)
            else:
                _add_row(R[t], 1.0, cc, M2, M21, M31, s1, s2, s3, s4, u, acc)
                if t - L >= 1:
                    _add_row(R[t - L], -1.0, cc, M2, M21, M31, s1, s2, s3, s4, u, acc)
        if t < L:
            out[t] = warm
            continue
        for i in range(n):
            var = s2[i] - s1[i] * s1[i] / L
            if not var > 1e-14 * (s2[i] + 1e-300):
                return t, i
        _shrunk(L, shrink, M2, M21, M31, s1, s2, s3, s4, u, acc, S)
        if method == METHOD_RISK_PARITY:
            if not started:
                for i in range(n):
                    y[i] = 1.0 / math.sqrt(S[i, i])
            if erc_solve(S, b, y, ERC_TOL) < 0:
                return t, -1
            tot = y.sum()
            for i in range(n):
                out[t, i] = y[i] / tot
        else:
            scale = 0.0
            for i in range(n):
                scale += S[i, i]
            if minvar_solve(S, lo, hi, w, MINVAR_TOL * scale / n) < 0:
                return t, -1
            out[t] = w
        started = True
    return -1, -1


@njit(cache=True)
def inverse_vol_path(R, L, ewma, warm, out):  # noqa: ANN001
    """Weights ∝ 1/σ for every t; rows t < L get ``warm``.

    rolling: σ = sample standard deviation (ddof = 1) of the window's returns (bt's
    ``WeighInvVol``). ewma: RiskMetrics zero-mean σ² ← (1−α)σ² + α r², α = 2/(L+1), seeded at
    t = L with the mean of r² over the first window. Returns (−1, −1) or (t, asset) of a zero σ.
    """
    T, n = R.shape
    var = np.zeros(n)
    alpha = 2.0 / (L + 1.0)
    for t in range(T):
        if t < L:
            out[t] = warm
            continue
        for i in range(n):
            if ewma:
                if t == L:
                    s = 0.0
                    for k in range(1, L + 1):
                        s += R[k, i] * R[k, i]
                    var[i] = s / L
                else:
                    var[i] = (1.0 - alpha) * var[i] + alpha * R[t, i] * R[t, i]
            else:
                m = 0.0
                for k in range(t - L + 1, t + 1):
                    m += R[k, i]
                m /= L
                s = 0.0
                for k in range(t - L + 1, t + 1):
                    s += (R[k, i] - m) ** 2
                var[i] = s / (L - 1)
        tot = 0.0
        for i in range(n):
            if not var[i] > 0.0:
                return t, i
            out[t, i] = 1.0 / math.sqrt(var[i])
            tot += out[t, i]
        for i in range(n):
            out[t, i] /= tot
    return -1, -1


@njit(cache=True)
def window_portfolio_vol(R, t, L, w):  # noqa: ANN001
    """Sample standard deviation (ddof = 1) of Σᵢ wᵢ rₖᵢ over the window ending at t.

    Equals √(wᵀSw) for the sample covariance S of the window, in O(L·N): the ex-ante volatility
    of holding ``w`` (vol target) or of holding the active weights (tracking error).
    """
    m = 0.0
    for k in range(t - L + 1, t + 1):
        p = 0.0
        for i in range(w.shape[0]):
            p += w[i] * R[k, i]
        m += p
    m /= L
    s = 0.0
    for k in range(t - L + 1, t + 1):
        p = 0.0
        for i in range(w.shape[0]):
            p += w[i] * R[k, i]
        s += (p - m) ** 2
    return math.sqrt(s / (L - 1))


@njit(cache=True)
def vol_scale_path(R, W, risky, L, ppy, target_vol, max_leverage, out):  # noqa: ANN001
    """Scale kₜ of the risky sleeve so its ex-ante annualised volatility is ``target_vol``.

    ``W`` are the inner target's weights, ``risky`` marks the non-reserve assets. k is capped so
    the gross risky exposure k·Σ risky weights stays ≤ ``max_leverage``; t < L (no estimate) gets
    k = 0, everything in the reserve.
    """
    T, n = W.shape
    w = np.zeros(n)
    for t in range(T):
        out[t] = 0.0
        if t < L:
            continue
        expo = 0.0
        for i in range(n):
            w[i] = W[t, i] if risky[i] else 0.0
            expo += w[i]
        if expo <= 0.0:
            continue
        sigma = window_portfolio_vol(R, t, L, w) * math.sqrt(ppy)
        cap = max_leverage / expo
        out[t] = cap if sigma <= 0.0 else min(target_vol / sigma, cap)
