"""Log-likelihoods under the probability-flow ODE (Song et al. 2021, Sec. 4.3 and App. D.2).

Along the ODE dx/dt = f~(x, t) = f(x, t) - g(t)^2 score(x, t) / 2 the instantaneous change of
variables (Chen et al. 2018, Thm. 1) gives d log p_t(x(t)) / dt = -div f~(x(t), t), hence

    log p_eps(x) = log p_T(z) + int_eps^T div f~(x(t), t) dt,    z = x(T).

The state (x, Delta log p) is integrated from eps to T by an adaptive diffrax solver, one
initial-value problem per sample (`vmap`ped, as in `samplers/ode.py`), so a sample's steps, its
result and its NFE do not depend on the rest of the batch. The divergence is either the exact
trace of the Jacobian (low dimensions) or the Hutchinson--Skilling estimate v^T (df~/dx) v with
one noise draw v per solve (Hutchinson 1989; Skilling 1989; Grathwohl et al. 2019).
"""

from __future__ import annotations

import math

import diffrax
import jax
import jax.numpy as jnp

from common import checks
from samplers import _common, ode
from sde_lib import SDE
from sde_lib.base import Array

TRACES = ("exact", "rademacher", "gaussian")


def trace_noise(key: Array, shape, trace: str, dtype=jnp.float32) -> Array | None:
    """The probe vector v of the Hutchinson estimator (E[v v^T] = I); None for the exact trace."""
    checks.choice("trace", trace, TRACES)
    if trace == "rademacher":
        return jax.random.rademacher(key, shape, dtype)
    if trace == "gaussian":
        return jax.random.normal(key, shape, dtype)
    return None


def divergence(fn, x: Array, noise: Array | None = None) -> tuple[Array, Array]:
    """(fn(x), div fn(x)) for one unbatched x, evaluating fn once.

    With `noise=None` the divergence is the exact trace of the Jacobian (one linearisation and
    x.size Jacobian--vector products: for low dimensions). Otherwise it is the Hutchinson--Skilling
    estimate v^T (dfn/dx) v through one vector--Jacobian product, unbiased when E[v v^T] = I.
    """
    if noise is None:
        fx, fn_lin = jax.linearize(fn, x)
        basis = jnp.eye(x.size, dtype=x.dtype).reshape((x.size,) + x.shape)
        columns = jax.vmap(fn_lin)(basis).reshape(x.size, x.size)
        return fx, jnp.trace(columns)
    fx, vjp_fn = jax.vjp(fn, x)
    (v_jac,) = vjp_fn(noise)
    return fx, jnp.sum(v_jac * noise)


def get_likelihood_fn(
    sde: SDE,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    trace: str = "rademacher",
    eps: float = 1e-5,
    solver: str = "tsit5",
    max_steps: int = 8192,
):
    """Builds `likelihood_fn(key, score_fn, x) -> (logp [B], z [B, ...], nfe [B])`.

    `logp` is log p_eps(x) in nats per sample, `z` the latent x(T), and `nfe` the exact number of
    score evaluations of each sample's solve: 1 + (evaluations per step) * (attempted steps), as
    counted in `samplers.ode.SOLVERS`. With a Hutchinson trace every evaluation also costs one
    vector--Jacobian product; with `trace='exact'` one linearisation and D Jacobian--vector
    products. `key` only draws the probe vectors (sample b uses fold_in(key, b)); it is unused by
    the exact trace. Wrap the call in `jax.jit` (the solve itself is compiled by diffrax).
    """
    checks.choice("trace", trace, TRACES)
    checks.choice("solver", solver, ode.SOLVERS)
    rtol, atol = checks.positive("rtol", rtol), checks.positive("atol", atol)
    eps = checks.number("eps", eps, low=0.0, high=sde.T, low_open=True, high_open=True)
    max_steps = checks.positive_int("max_steps", max_steps)
    solver_cls, evals_per_step = ode.SOLVERS[solver]

    def likelihood_fn(key, score_fn, x):
        if x.ndim < 2:
            raise ValueError(f"x must be batched, [B, ...], got x.shape={x.shape}")
        _common.check_score_output(score_fn, x)
        rsde = sde.reverse(score_fn, probability_flow=True)

        def vector_field(t, state, noise):
            x_t, _ = state

            def drift(y):
                return rsde.sde(y[None], jnp.full((1,), t, y.dtype))[0][0]

            return divergence(drift, x_t, noise)

        def solve_one(x0, k):
            sol = diffrax.diffeqsolve(
                diffrax.ODETerm(vector_field),
                solver_cls(),
                t0=eps,
                t1=sde.T,
                dt0=None,
                y0=(x0, jnp.zeros((), x0.dtype)),
                args=trace_noise(k, x0.shape, trace, x0.dtype),
                stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
                saveat=diffrax.SaveAt(t1=True),
                max_steps=max_steps,
            )
            z, delta_logp = sol.ys[0][0], sol.ys[1][0]
            nfe = ode._INITIAL_EVALS + evals_per_step * sol.stats["num_steps"]
            return z, delta_logp, nfe

        z, delta_logp, nfe = jax.vmap(solve_one)(x, _common.per_sample_keys(key, x.shape[0]))
        return sde.prior_logp(z) + delta_logp, z, nfe

    return likelihood_fn


# ----- bits per dimension ---------------------------------------------------------------------------
def dequantize(key: Array, images: Array, *, n_bits: int = 8, centered: bool = True) -> Array:
    """Uniform dequantization (Theis et al. 2016) of integer images in [0, 2^n_bits).

    x01 = (images + u) / 2^n_bits with u ~ U[0, 1)^D drawn from fold_in(key, b) for sample b;
    returns x01, or 2 x01 - 1 when `centered` (the model's data range).
    """
    u = jax.vmap(lambda k: jax.random.uniform(k, images.shape[1:]))(
        _common.per_sample_keys(key, images.shape[0])
    )
    x01 = (images.astype(u.dtype) + u) / 2**n_bits
    return 2.0 * x01 - 1.0 if centered else x01


def bits_per_dim(logp_x: Array, dim: int, *, centered: bool = True, n_bits: int = 8) -> Array:
    """Bits per dimension of the discrete data from the model's log-density of dequantized data.

    With x = s x01 (s = 2 when `centered`, else 1; the shift does not matter) and y = 2^n x01 the
    dequantized integer image, log p(y) = log p(x) + D log s - D n log 2, so

        bpd = -log p(y) / (D log 2) = -(log p(x) + D log s) / (D log 2) + n_bits,

    the number published for CIFAR-10 and comparable across data scalings.
    """
    log_scale = math.log(2.0) if centered else 0.0
    return -(logp_x + dim * log_scale) / (dim * math.log(2.0)) + n_bits


def get_bpd_fn(sde: SDE, *, centered: bool = True, n_bits: int = 8, **likelihood_options):
    """Builds `bpd_fn(key, score_fn, images) -> (bpd [B], nfe [B])` for integer images [B, ...].

    The images are dequantized inside (`dequantize`, one uniform draw per call), mapped to the
    model's range ([-1, 1] when `centered`, else [0, 1]), their log-likelihood computed by
    `get_likelihood_fn(sde, **likelihood_options)`, and the scaling's Jacobian put back in
    (`bits_per_dim`). Values outside [0, 2^n_bits) are not checked (they cannot be under jit).
    """
    n_bits = checks.integer("n_bits", n_bits, low=1, high=16)
    likelihood_fn = get_likelihood_fn(sde, **likelihood_options)

    def bpd_fn(key, score_fn, images):
        if not jnp.issubdtype(images.dtype, jnp.integer):
            raise ValueError(f"images must have an integer dtype, got images.dtype={images.dtype}")
        k_dequant, k_trace = jax.random.split(key)
        x = dequantize(k_dequant, images, n_bits=n_bits, centered=centered)
        logp_x, _, nfe = likelihood_fn(k_trace, score_fn, x)
        return bits_per_dim(logp_x, math.prod(images.shape[1:]), centered=centered, n_bits=n_bits), nfe

    return bpd_fn
