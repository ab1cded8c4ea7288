"""The fit of a learned solver on one of the benchmark's analytic problems, timed alone: the fit
the benchmark's learned rows make (`LEARNING` settings, the pilot key of `evaluate_samplers`), with
its wall time and this process's CPU time (user + sys: imports, the teacher solve, compilation
and the Adam steps), which on a shared machine is the figure that does not move with the load.

    python -m benchmarks.learned_fit --nfe 10 --order 2       # unipc-2, 64-D VP mixture
    python -m benchmarks.learned_fit --nfe 20 --order 3 --problem aniso32d_vp
"""

from __future__ import annotations

import argparse
import resource
import time

import jax

from benchmarks import solvers


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="mixture64d_vp", help=f"one of {sorted(solvers.problems())}")
    parser.add_argument("--nfe", type=int, default=10)
    parser.add_argument("--order", type=int, default=2)
    parser.add_argument("--base", default="unipc", help="unipc | dpmpp")
    args = parser.parse_args(argv)
    problems = solvers.problems()
    if args.problem not in problems:
        parser.error(f"--problem={args.problem!r} is not a problem of the benchmark; valid: {sorted(problems)}")
    prob = problems[args.problem]
    key_prior = jax.random.split(jax.random.PRNGKey(prob.seed))[1]  # as the benchmark's sections draw it
    pilot_key = jax.random.split(key_prior)[1]  # as evaluate_samplers splits it
    entry = solvers.Entry(f"{args.base}-{args.order} learned", "learned",
                          {"base": args.base, "order": args.order, "learned_solver": solvers.TO_FIT}, args.nfe)
    start = time.perf_counter()
    _, info = solvers.fit_entry(prob.sde, prob.score_fn, (1, prob.gm.dim), entry, pilot_key)
    print(f"{args.problem}: {entry.label} at {args.nfe} NFE, {solvers.LEARNING['pilot']} pilots, "
          f"{solvers.LEARNING['n_iters']} Adam steps; held-out pilot error {info['pilot_err_init']:.3e} -> "
          f"{info['pilot_err']:.3e}; fit {time.perf_counter() - start:.1f} s wall at load {info['load']:.1f}, "
          f"process {_cpu_seconds():.1f} s CPU (user + sys since start, imports included)", flush=True)


if __name__ == "__main__":
    main()
