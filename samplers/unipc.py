"""UniPC (Zhao et al., NeurIPS 2023, arXiv:2302.04867): a multistep predictor (UniP-p) whose step is
corrected (UniC) with the data prediction at the new point, which the next step needs anyway.

In data prediction and log-SNR lambda (as DPM-Solver++), a step from s to t, h = lambda_t - lambda_s,
with m_0 = x0_hat at s and earlier predictions m_i at lambda_s + r_i h (r_i < 0), is

    x_t = sigma_t/sigma_s x_s + alpha_t h phi_1(-h) m_0 - alpha_t B(h) sum_i a_i D_i,
    D_i = (m_i - m_0) / r_i,

with B(h) = h (`bh1`) or e^h - 1 (`bh2`), and the weights a solving sum_i a_i r_i^(k-1) = b_k, where
b_k = k! h phi_(k+1)(-h) / B(h) (the paper's order conditions, with nodes r_1, ..., r_p). The predictor
UniP-p uses the p - 1 previous points (order p); the corrector UniC evaluates m_t = x0_hat(x_t, t)
once, adds r_p = 1 with D_p = m_t - m_0 and raises the order to p + 1 at no extra cost: m_t is the
next step's m_0. The last step is not corrected (its evaluation would be wasted), as in the
official implementation (`multistep_uni_pc_bh_update`), whose simplifications a = 1/2 for the
order-2 predictor and order-1 corrector are kept. The b_k are written with the phi-functions of
`dpm_solver` so that no step loses digits in float32.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from common import checks
from samplers._common import data_prediction
from samplers.dpm_solver import check_order, multistep_orders, phi
from samplers.fixed_step import Steps, fixed_step_method, scan_orders
from sde_lib import SDE

VARIANTS = ("bh1", "bh2")


def vandermonde_weights(nodes, b):
    """a with sum_j a_j nodes_j^k = b_k, k = 0..n-1: a_j = sum_k b_k [x^k] l_j(x), l_j the
    Lagrange basis polynomials of the nodes (no linear solve inside the sampling loop)."""
    a = []
    for j, node_j in enumerate(nodes):
        coeffs = [1.0]  # l_j in ascending powers of x
        for i, node_i in enumerate(nodes):
            if i != j:
                d = node_j - node_i
                coeffs = [(c_lo - node_i * c) / d for c_lo, c in zip([0.0] + coeffs, coeffs + [0.0])]
        a.append(sum(c * b_k for c, b_k in zip(coeffs, b)))
    return a


def unipc_update(sde: SDE, x, s, t, m, lam, order: int, variant: str, m_t=None):
    """UniP-`order` from s to t, or UniC when m_t = x0_hat(x_t_pred, t) is given.

    m[i] is the data prediction at lambda = lam[i], newest (at s) first.
    """
    h = sde.log_snr(t) - lam[0]
    z = -h
    b_h = z if variant == "bh1" else z * phi(1, z)  # B(h) of the data-prediction form: -h or e^-h - 1
    # b_k = z phi_(k+1)(z) k! / B(h), k = 1..order (+1 for the corrector)
    b = [z * phi(k + 1, z) * math.factorial(k) / b_h for k in range(1, order + 2)]
    rks = [(lam[i] - lam[0]) / h for i in range(1, order)]
    d1s = [(m[i] - m[0]) / r for i, r in zip(range(1, order), rks)]
    x_lin = jnp.exp(sde.log_sigma(t) - sde.log_sigma(s)) * x + sde.alpha(t) * h * phi(1, z) * m[0]
    if m_t is None:  # predictor UniP-order
        if order == 1:
            return x_lin
        a = [0.5] if order == 2 else vandermonde_weights(rks, b[: order - 1])
        return x_lin - sde.alpha(t) * b_h * sum(a_i * d for a_i, d in zip(a, d1s))
    a = [0.5] if order == 1 else vandermonde_weights(rks + [1.0], b[:order])  # corrector UniC
    corr = sum(a_i * d for a_i, d in zip(a[:-1], d1s)) + a[-1] * (m_t - m[0])
    return x_lin - sde.alpha(t) * b_h * corr


def _unipc(n_evals: int, *, order: int = 3, variant: str = "bh2", lower_order_final: bool = True) -> Steps:
    """UniPC-`order` (Zhao et al. 2023): UniP-p predictor + UniC corrector, order p + 1, one data
    prediction per step: nfe - denoise steps on the grid (the first evaluation at T, one per step
    after it but the last). Warm-up from order 1, and with `lower_order_final` down to order 1 at
    the end, as in DPM-Solver++. `variant` "bh2" (B(h) = e^h - 1) or "bh1" (B(h) = h). The paper
    recommends order 3 for unconditional sampling (the default), order 2 for guided sampling.
    """
    order = check_order(order)
    checks.choice("variant", variant, VARIANTS)
    orders = multistep_orders(n_evals, order, checks.boolean("lower_order_final", lower_order_final))

    def solve(sde, score_fn, x, ts, noise_keys):
        def corrected_step(o, carry, st):  # the history: data predictions m and their log-SNRs, newest first
            x, m, lam = carry
            s, t = st
            x_pred = unipc_update(sde, x, s, t, m, lam, o, variant)
            m_t = data_prediction(sde, score_fn, x_pred, t)
            x = unipc_update(sde, x, s, t, m, lam, o, variant, m_t=m_t)
            return x, jnp.concatenate([m_t[None], m[:-1]]), jnp.concatenate([sde.log_snr(t)[None], lam[:-1]])

        m = jnp.zeros((order,) + x.shape, x.dtype).at[0].set(data_prediction(sde, score_fn, x, ts[0]))
        lam = jnp.zeros((order,), ts.dtype).at[0].set(sde.log_snr(ts[0]))
        x, m, lam = scan_orders(corrected_step, (x, m, lam), ts, orders[:-1])
        return unipc_update(sde, x, ts[-2], ts[-1], m, lam, orders[-1], variant)  # last step: UniP only

    return Steps(len(orders), n_evals, 1, "one step", solve)


get_unipc_sampler = fixed_step_method(_unipc, name="get_unipc_sampler")
