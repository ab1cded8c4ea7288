"""What `main.py --mode` runs, on the plain objects a config is turned into (an `Experiment`).

    modes/run.py            Experiment; train, sample (one batch), calibrate; the jitted train step and
                            sampler an Experiment builds; restoring and checking its checkpoints
    modes/sample_folder.py  --mode sample with sampling.num_samples: per-sample keys, resumable folder
    modes/evaluate.py       --mode eval: test loss, likelihood, sample-quality metrics per checkpoint
    modes/controllable.py   --mode inpaint | colorize | conditional
    modes/commands.py       the function each --mode name runs (main.MODES), given a `Run`

Layering: modes/ uses training/ (state, losses, loop, checkpoints), evaluation/ (metrics, features),
importers/ and the library below them; configs/ builds an Experiment (so imports modes/, never the
reverse: nothing here reads a config); benchmarks/ and main.py sit on top. `--mode benchmark` is
`benchmarks.trained.benchmark_mode` for that reason. tests/test_layering.py checks that no two
packages import each other.
"""
