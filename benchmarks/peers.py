"""Peer rows: the popular PyTorch implementations on this benchmark's analytic problems.

    pip install -e ".[peers]"      # CPU torch, diffusers, torchdiffeq, torchsde
    pip install --no-deps k-diffusion
    python -m benchmarks.solvers --workdir DIR --sections peers

(k-diffusion's package __init__ imports its training stack, torchvision, scikit-image, ...; only
`k_diffusion/sampling.py` is loaded here, with the one helper it takes from `k_diffusion.utils`,
`append_dims`, provided below. Without torch / diffusers / k-diffusion the rows are skipped.)

Every sampler is fed the exact denoiser D(x~, sigma) = E[x_0 | x_0 + sigma eps = x~] of the mixture
(from `sde_lib.GaussianMixture`'s exact score, in float64) at the noise level it asks for: diffusers'
schedulers with their own linear-beta DDPM schedule (beta 1e-4 ... 0.02 over 1000 steps: this VP
SDE), their model output an epsilon prediction at sigmas[step_index]; k-diffusion's samplers on
the VP SDE's sigma range sigma(eps) / alpha(eps) ... sigma(T) / alpha(T). Each is compared with the
converged probability flow (float64 Dopri8, rtol = atol = 1e-10, in x~ and log sigma) from its own
start point and start level to its own end level (sigma = 0: to 1e-5, then one exact denoising).
The NFE is the number of calls to the denoiser.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

BUDGETS = (10, 20, 50)
QUICK_BUDGETS = (10, 20)


def missing() -> str | None:
    """None when torch, diffusers and k-diffusion's sampling module can be imported, else why not."""
    for name in ("torch", "diffusers", "torchdiffeq", "torchsde"):
        if importlib.util.find_spec(name) is None:
            return f"{name} is not installed"
    if importlib.util.find_spec("k_diffusion") is None:
        return "k-diffusion is not installed"
    return None


def k_sampling():
    """k-diffusion's sampling module, loaded without the package's __init__ (see the docstring)."""
    if "k_diffusion.sampling" in sys.modules:
        return sys.modules["k_diffusion.sampling"]
    spec = importlib.util.find_spec("k_diffusion")
    package = types.ModuleType("k_diffusion")
    package.__path__ = list(spec.submodule_search_locations)
    utils = types.ModuleType("k_diffusion.utils")

    def append_dims(x, target_dims):  # trailing singleton axes up to target_dims
        return x[(...,) + (None,) * (target_dims - x.ndim)]

    utils.append_dims = append_dims
    package.utils = utils
    sys.modules.setdefault("k_diffusion", package)
    sys.modules.setdefault("k_diffusion.utils", utils)
    return importlib.import_module("k_diffusion.sampling")


def make_denoiser(sde, score_fn):
    """D(x~ [B, D], sigma [B]) in float64: the data prediction at the VP time whose
    sigma(t) / alpha(t) is sigma, evaluated at x_t = alpha(t) x~."""

    def denoise(x, sigma):
        t = sde.t_from_log_snr(-jnp.log(sigma))
        a, s = sde.alpha(t)[:, None], sde.sigma(t)[:, None]
        return (a * x + s**2 * score_fn(a * x, t)) / a

    return jax.jit(denoise)


def converged(denoise, x_start, sigma_start: float, sigma_end: float):
    """dx~/dlog(sigma) = x~ - D(x~, sigma) from sigma_start to sigma_end (0: to 1e-5, then D)."""
    with jax.enable_x64(True):
        x0 = jnp.asarray(x_start, jnp.float64)
        end = max(sigma_end, 1e-5)

        def field(u, y, args):
            return y - denoise(y, jnp.full(y.shape[:1], jnp.exp(u)))

        sol = diffrax.diffeqsolve(diffrax.ODETerm(field), diffrax.Dopri8(), t0=float(np.log(sigma_start)),
                                  t1=float(np.log(end)), dt0=None, y0=x0, max_steps=100_000,
                                  stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-10))
        x = sol.ys[-1]
        if sigma_end == 0:
            x = denoise(x, jnp.full(x.shape[:1], 1e-5))
        return np.asarray(x, np.float64)


class Counted:
    """The denoiser for torch callers, counting its calls."""

    def __init__(self, denoise):
        self.denoise, self.calls = denoise, 0

    def __call__(self, x, sigma):
        import torch

        self.calls += 1
        sigma = np.broadcast_to(np.asarray(sigma, np.float64), (x.shape[0],))
        with jax.enable_x64(True):
            out = np.asarray(self.denoise(jnp.asarray(x.detach().numpy(), jnp.float64), jnp.asarray(sigma)))
        return torch.from_numpy(np.array(out)).to(x.dtype)


def run_diffusers(cls, options: dict, n_steps: int, noise: np.ndarray, denoise):
    """(x~ at the end, x~ at the start, sigma_start, sigma_end, calls) of one diffusers scheduler."""
    import torch

    sched = cls(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear", **options)
    sched.set_timesteps(n_steps)
    model = Counted(denoise)
    sigmas = sched.sigmas.double().numpy()
    x = torch.from_numpy(noise) * sched.init_noise_sigma
    edm_state = float(sched.init_noise_sigma) != 1.0  # Heun keeps x~; the multistep ones alpha x~
    for t in sched.timesteps:
        model_in = sched.scale_model_input(x, t)  # alpha(sigma) x~ for all of them
        if sched.step_index is None:
            sched._init_step_index(t)
        sigma = float(sigmas[sched.step_index])
        alpha = 1.0 / np.sqrt(sigma**2 + 1.0)
        x_tilde = model_in / alpha
        eps = (x_tilde - model(x_tilde, sigma)) / sigma  # the epsilon prediction of the exact denoiser
        x = sched.step(eps.to(x.dtype), t, x).prev_sample
    s0, s1 = float(sigmas[0]), float(sigmas[-1])
    x_start = noise * np.sqrt(s0**2 + 1.0)  # init_noise_sigma * noise is alpha_0 x~_0 or x~_0 alike
    x_end = x.double().numpy() * (1.0 if edm_state else np.sqrt(s1**2 + 1.0))
    return x_end, x_start, s0, s1, model.calls


def run_k(name: str, schedule: str, n_steps: int, noise: np.ndarray, denoise, sigma_min: float, sigma_max: float):
    """The same for one k-diffusion sampler on a `schedule` (karras | exponential) of n_steps levels."""
    import torch

    K = k_sampling()
    model = Counted(denoise)
    get = K.get_sigmas_karras if schedule == "karras" else K.get_sigmas_exponential
    sigmas = get(n_steps, sigma_min, sigma_max)
    x0 = torch.from_numpy(noise) * sigmas[0]
    x = getattr(K, f"sample_{name}")(model, x0, sigmas, disable=True)
    return x.double().numpy(), noise * float(sigmas[0]), float(sigmas[0]), float(sigmas[-1]), model.calls


def peer_entries(budget: int):
    """(label, runner kwargs) per peer sampler at this NFE budget (Heun: about budget / 2 steps)."""
    from diffusers import (DEISMultistepScheduler, DPMSolverMultistepScheduler, HeunDiscreteScheduler,
                           UniPCMultistepScheduler)

    dpm = DPMSolverMultistepScheduler
    heun_steps = (budget + 1) // 2
    return [
        ("diffusers DPMSolverMultistep 2M", ("d", dpm, {"solver_order": 2}, budget)),
        ("diffusers DPMSolverMultistep 2M karras", ("d", dpm, {"solver_order": 2, "use_karras_sigmas": True}, budget)),
        ("diffusers DPMSolverMultistep 2M lu", ("d", dpm, {"solver_order": 2, "use_lu_lambdas": True}, budget)),
        ("diffusers DPMSolverMultistep 3M", ("d", dpm, {"solver_order": 3}, budget)),
        ("diffusers DPMSolverMultistep 3M karras", ("d", dpm, {"solver_order": 3, "use_karras_sigmas": True}, budget)),
        ("diffusers DPMSolverMultistep 3M lu", ("d", dpm, {"solver_order": 3, "use_lu_lambdas": True}, budget)),
        ("diffusers UniPCMultistep", ("d", UniPCMultistepScheduler, {}, budget)),
        ("diffusers DEISMultistep", ("d", DEISMultistepScheduler, {}, budget)),
        ("diffusers HeunDiscrete", ("d", HeunDiscreteScheduler, {}, heun_steps)),
        ("k-diffusion dpmpp_2m karras", ("k", "dpmpp_2m", "karras", budget)),
        ("k-diffusion dpmpp_2m exponential", ("k", "dpmpp_2m", "exponential", budget)),
        ("k-diffusion heun karras", ("k", "heun", "karras", heun_steps)),
        ("k-diffusion lms karras", ("k", "lms", "karras", budget)),
    ]


def _errors(x, ref):
    flat, r = x.reshape(len(x), -1), ref.reshape(len(ref), -1)
    rel = float(np.sqrt(np.mean((flat - r) ** 2) / np.mean(r**2)))
    per = np.sqrt(np.sum((flat - r) ** 2, -1) / np.mean(np.sum(r**2, -1)))
    return rel, float(np.median(per)), int(np.sum(~(per <= 0.5)))


def peers_section(problems: dict, sigma_range, *, quick: bool = False, names=None) -> str:
    """Markdown tables of the peer samplers on the analytic VP problems (one line if skipped):
    `problems` maps names to the solver benchmark's `Problem`s, `sigma_range(sde)` gives the EDM
    sigmas at the samplers' end and start times."""
    why = missing()
    if why:
        return f"Skipped: {why} (pip install -e \".[peers]\" && pip install --no-deps k-diffusion)."
    budgets = QUICK_BUDGETS if quick else BUDGETS
    names = [n for n in (names or ("mixture64d_vp", "aniso32d_vp")) if n.endswith("_vp")]
    batch = 128 if quick else 1000
    out = []
    for name in names:
        prob = problems[name]
        denoise = make_denoiser(prob.sde, prob.score_fn)
        noise = np.array(jax.random.normal(jax.random.PRNGKey(prob.seed + 100), (batch, prob.gm.dim)), np.float32)
        sigma_min, sigma_max = sigma_range(prob.sde)
        refs, cells, adaptive = {}, {}, []

        def measure(result):
            x, x_start, s0, s1, calls = result
            key = (round(s0, 6), round(s1, 8))
            if key not in refs:
                refs[key] = converged(denoise, x_start, s0, s1)
            return (*_errors(x, refs[key]), calls)

        for budget in budgets:
            for label, (kind, a, b, n) in peer_entries(budget):
                result = (run_diffusers(a, b, n, noise, denoise) if kind == "d"
                          else run_k(a, b, n, noise, denoise, sigma_min, sigma_max))
                cells[label, budget] = measure(result)
        for rtol in ((0.05,) if quick else (0.05, 0.01)):
            K = k_sampling()
            model = Counted(denoise)
            import torch

            x = K.sample_dpm_adaptive(model, torch.from_numpy(noise) * sigma_max, sigma_min, sigma_max, rtol=rtol,
                                      atol=rtol / 6.4, disable=True)
            adaptive.append((rtol, measure((x.double().numpy(), noise * sigma_max, sigma_max, sigma_min,
                                            model.calls))))
        labels = list(dict.fromkeys(label for label, _ in cells))
        head = "| sampler | " + " | ".join(f"NFE {b}" for b in budgets) + " |"
        rule = "|---" * (len(budgets) + 1) + "|"
        fmt_err = lambda c, b: f"{c[0]:.1e}" + ("" if c[3] == b else f" ({c[3]})")  # noqa: E731
        fmt_med = lambda c: f"{c[1]:.1e}" + (f" ({c[2]})" if c[2] else "")  # noqa: E731
        out += [f"#### {prob.title}, {batch} samples", "",
                "Relative RMS error against the converged solution from each sampler's own start and end level "
                "(in brackets: the NFE counted, where it differs from the budget):", "", head, rule]
        out += [f"| {label} | " + " | ".join(fmt_err(cells[label, b], b) for b in budgets) + " |" for label in labels]
        out += ["", "Median per-sample error (samples ending in another mode):", "", head, rule]
        out += [f"| {label} | " + " | ".join(fmt_med(cells[label, b]) for b in budgets) + " |" for label in labels]
        out += ["", "| k-diffusion dpm_adaptive | NFE | rel. error | median (flips) |", "|---|---|---|---|"]
        out += [f"| rtol {rtol:g}, atol {rtol / 6.4:.2g} | {c[3]} | {c[0]:.1e} | {fmt_med(c)} |" for rtol, c in adaptive]
        out.append("")
    return "\n".join(out)
