"""DPM-Solver (Lu et al., NeurIPS 2022) and multistep DPM-Solver++ (Lu et al. 2022b, arXiv:2211.01095).

Both solve the probability-flow ODE exactly in its linear part by changing variable to the
log-SNR lambda = log(alpha / sigma). With x_t = alpha(t) x_0 + sigma(t) n, n ~ N(0, I),

    noise prediction  n_hat(x, t)  = -sigma(t) score(x, t)              (DPM-Solver),
    data prediction   x0_hat(x, t)  = (x + sigma(t)^2 score(x, t)) / alpha(t)   (DPM-Solver++),

and the exact solution from s to t (h = lambda_t - lambda_s) is

    x_t = alpha_t / alpha_s x_s - alpha_t int_{lambda_s}^{lambda_t} e^-lambda n_hat dlambda
        = sigma_t / sigma_s x_s + sigma_t int_{lambda_s}^{lambda_t} e^lambda x0_hat dlambda.

Taylor-expanding the predictions in lambda gives the phi-functions phi_k(h) below; they are
evaluated by their series for small |h| so that no step loses digits in float32.
Only alpha, sigma, lambda and its inverse are used: VP, sub-VP and VE alike.
"""

from __future__ import annotations

import functools
import math

import jax.numpy as jnp

from common import checks
from samplers._common import data_prediction
from samplers.fixed_step import Steps, fixed_step_method, scan_orders
from sde_lib import SDE


# ----- pieces shared with UniPC and the learned solver -------------------------------------------
def phi(k: int, h):
    """phi_k(h) = sum_{j>=0} h^j / (j + k)!, e.g. phi_1(h) = (e^h - 1) / h; series where |h| < 1."""
    small = jnp.abs(h) < 1.0
    hs = jnp.where(small, h, 0.0)
    series = 0.0
    for j in reversed(range(17)):  # Horner
        series = series * hs + 1.0 / math.factorial(j + k)
    hd = jnp.where(small, 1.0, h)
    direct = (jnp.expm1(hd) - sum(hd**j / float(math.factorial(j)) for j in range(1, k))) / hd**k
    return jnp.where(small, series, direct)


def noise_prediction(sde: SDE, score_fn, x, t):
    """n_hat(x, t) = -sigma(t) score(x, t), the prediction of the noise n in x_t, at a scalar time t."""
    vec_t = jnp.full(x.shape[:1], t)
    return -sde.sigma(t) * score_fn(x, vec_t)


def check_order(order) -> int:
    """The order of DPM-Solver, DPM-Solver++ and UniPC: 1, 2 or 3 (an integer, not a bool)."""
    try:
        return checks.integer("order", order, low=1, high=3)
    except checks.ArgumentError:
        raise checks.ArgumentError("order", order, "1, 2 or 3") from None


# ----- singlestep DPM-Solver ----------------------------------------------------------------------
def dpm_solver_step(sde: SDE, score_fn, x, s, t, order: int):
    """One step of DPM-Solver-1, -2 or -3 from s to t (Lu et al. 2022, Algorithms 1, 4 and 5).

    Intermediate points sit at lambda_s + r h with r1 = 1/2 (order 2), r1 = 1/3, r2 = 2/3 (order 3).
    DPM-Solver-1 is DDIM (Song et al. 2021a): x_t = alpha_t/alpha_s x_s - sigma_t (e^h - 1) n_hat(x_s, s).
    """
    lam_s = sde.log_snr(s)
    h = sde.log_snr(t) - lam_s
    noise_s = noise_prediction(sde, score_fn, x, s)

    def first_order(u, r):  # x_u from x_s with n_hat held at noise_s; lambda_u = lambda_s + r h
        ratio = jnp.exp(sde.log_alpha(u) - sde.log_alpha(s))
        return ratio * x - sde.sigma(u) * (r * h) * phi(1, r * h) * noise_s

    x_t = first_order(t, 1.0)
    if order == 1:
        return x_t
    if order == 2:
        r1 = 0.5
        s1 = sde.t_from_log_snr(lam_s + r1 * h)
        u1 = first_order(s1, r1)
        d1 = noise_prediction(sde, score_fn, u1, s1) - noise_s
        return x_t - sde.sigma(t) / (2 * r1) * h * phi(1, h) * d1
    r1, r2 = 1.0 / 3.0, 2.0 / 3.0
    s1 = sde.t_from_log_snr(lam_s + r1 * h)
    s2 = sde.t_from_log_snr(lam_s + r2 * h)
    u1 = first_order(s1, r1)
    d1 = noise_prediction(sde, score_fn, u1, s1) - noise_s
    # sigma (r2 / r1) ((e^{r2 h} - 1) / (r2 h) - 1) D1, with (e^z - 1)/z - 1 = z phi_2(z).
    u2 = first_order(s2, r2) - sde.sigma(s2) * (r2 / r1) * (r2 * h) * phi(2, r2 * h) * d1
    d2 = noise_prediction(sde, score_fn, u2, s2) - noise_s
    return x_t - sde.sigma(t) / r2 * h * phi(2, h) * d2


def singlestep_orders(nfe: int, order: int, lower_order_final: bool) -> list[int]:
    """The order of each step, summing to nfe.

    lower_order_final=True is DPM-Solver-fast (Lu et al. 2022, Sec. 3.4 and App. D.1): order-3
    steps, then [2, 1], [1] or [2] at the end. Otherwise the remainder is one lower-order step
    at the start, where the trajectory is smoothest.
    """
    if lower_order_final:
        if order == 3:
            k = nfe // 3 + 1
            return {0: [3] * (k - 2) + [2, 1], 1: [3] * (k - 1) + [1], 2: [3] * (k - 1) + [2]}[nfe % 3]
        if order == 2:
            return [2] * (nfe // 2) + [1] * (nfe % 2)
        return [1] * nfe
    return [nfe % order] * (nfe % order > 0) + [order] * (nfe // order)


def _dpm_solver(n_evals: int, *, order: int = 3, lower_order_final: bool = True) -> Steps:
    """Singlestep DPM-Solver of `order` 1, 2 or 3 (Lu et al. 2022, Algorithms 1, 4, 5; Sec. 3.4).

    The nfe budget (minus one for `denoise`) is split into steps by `singlestep_orders`; the
    outer grid has one interval per step. Returns (samples, nfe) with nfe the exact evaluations.
    """
    order = check_order(order)
    orders = singlestep_orders(n_evals, order, checks.boolean("lower_order_final", lower_order_final))

    def solve(sde, score_fn, x, ts, noise_keys):
        return scan_orders(lambda o, x, st: dpm_solver_step(sde, score_fn, x, st[0], st[1], o), x, ts, orders)

    return Steps(len(orders), n_evals, 1, "one step", solve)


get_dpm_solver_sampler = fixed_step_method(_dpm_solver, name="get_dpm_solver_sampler")
# Deterministic DDIM (Song et al. 2021a, eta = 0) is DPM-Solver-1 (Lu et al. 2022, Eq. 3.7).
get_ddim_sampler = functools.partial(get_dpm_solver_sampler, order=1, lower_order_final=False)


# ----- multistep DPM-Solver++ ---------------------------------------------------------------------
def dpmpp_update(sde: SDE, x, s, t, m, lam, order: int):
    """One multistep DPM-Solver++ step from s to t (Lu et al. 2022b, Algorithm 2 and App. B).

    m[j] is the data prediction at lambda = lam[j], newest (at s) first. Order 1 is DDIM in
    data prediction; order 2 is DPM-Solver++(2M):  D = (1 + 1/(2 r)) m_0 - 1/(2 r) m_1,
    r = h_0 / h; order 3 is DPM-Solver++(3M): the third-order Taylor expansion of x0_hat in lambda,

        x_t = sigma_t/sigma_s x_s + alpha_t h [phi_1(-h) m_0 + phi_2(-h) D1 + 2 phi_3(-h) D2],

    with D1 ~ h x0_hat' and D2 ~ h^2 x0_hat'' / 2 from divided differences of m_0, m_1, m_2.
    """
    h = sde.log_snr(t) - lam[0]
    x_t = jnp.exp(sde.log_sigma(t) - sde.log_sigma(s)) * x
    a_h = sde.alpha(t) * h
    if order == 1:
        return x_t + a_h * phi(1, -h) * m[0]
    r0 = (lam[0] - lam[1]) / h
    if order == 2:
        return x_t + a_h * phi(1, -h) * ((1 + 0.5 / r0) * m[0] - 0.5 / r0 * m[1])
    r1 = (lam[1] - lam[2]) / h
    d1_0 = (m[0] - m[1]) / r0
    d1_1 = (m[1] - m[2]) / r1
    d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1)
    d2 = (d1_0 - d1_1) / (r0 + r1)
    return x_t + a_h * (phi(1, -h) * m[0] + phi(2, -h) * d1 + 2 * phi(3, -h) * d2)


def multistep_orders(n_steps: int, order: int, lower_order_final: bool) -> list[int]:
    """Warm-up from order 1 at the start; with lower_order_final, also down to order 1 at the end."""
    orders = [min(order, i + 1) for i in range(n_steps)]
    if lower_order_final:
        orders = [min(o, n_steps - i) for i, o in enumerate(orders)]
    return orders


def _dpmpp(n_evals: int, *, order: int, lower_order_final: bool = True) -> Steps:
    """Multistep DPM-Solver++ (Lu et al. 2022b, Algorithm 2 for order 2; order 3 from App. B).

    One data prediction per step: nfe - denoise steps on the grid. The first steps use lower
    orders while the history fills; with `lower_order_final` the last ones do too (Sec. 5 there).
    """
    order = check_order(order)
    orders = multistep_orders(n_evals, order, checks.boolean("lower_order_final", lower_order_final))

    def solve(sde, score_fn, x, ts, noise_keys):
        def step(o, carry, st):  # the history: data predictions m and their log-SNRs, newest first
            x, m, lam = carry
            s, t = st
            m = jnp.concatenate([data_prediction(sde, score_fn, x, s)[None], m[:-1]])
            lam = jnp.concatenate([sde.log_snr(s)[None], lam[:-1]])
            return dpmpp_update(sde, x, s, t, m, lam, o), m, lam

        history = (jnp.zeros((order,) + x.shape, x.dtype), jnp.zeros((order,), ts.dtype))
        return scan_orders(step, (x,) + history, ts, orders)[0]

    return Steps(len(orders), n_evals, order, f"at least order={order} steps", solve)


get_dpmpp_sampler = fixed_step_method(_dpmpp, name="get_dpmpp_sampler")
get_dpmpp_2m_sampler = functools.partial(get_dpmpp_sampler, order=2)  # DPM-Solver++(2M), Algorithm 2
get_dpmpp_3m_sampler = functools.partial(get_dpmpp_sampler, order=3)  # DPM-Solver++(3M), App. B
