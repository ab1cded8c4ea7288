"""subvpsde on the embedded 8x8 digits with a small DDPM++ U-Net.

Run:  python main.py --config configs/subvp/digits.py --workdir workdir/subvp_digits --mode train
      python main.py --config configs/subvp/digits.py --workdir workdir/subvp_digits --mode sample
Expect: a few minutes on 2 CPU cores; an 8x8 grid of digit-like samples.
"""

from configs import default_digits


def get_config():
    config = default_digits.get_config()
    config.training.sde = "subvpsde"
    config.sampling.predictor = "euler_maruyama"
    config.sampling.corrector = "none"
    return config
