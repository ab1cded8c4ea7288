"""vesde on the embedded 8x8 digits with a small DDPM++ U-Net.

Run:  python main.py --config configs/ve/digits.py --workdir workdir/ve_digits --mode train
      python main.py --config configs/ve/digits.py --workdir workdir/ve_digits --mode sample
Expect: a few minutes on 2 CPU cores; an 8x8 grid of digit-like samples.
"""

from configs import default_digits


def get_config():
    config = default_digits.get_config()
    config.training.sde = "vesde"
    config.sampling.predictor = "reverse_diffusion"
    config.sampling.corrector = "langevin"
    return config
