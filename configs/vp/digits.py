"""vpsde on the embedded 8x8 digits with a small DDPM++ U-Net.

Run:  python main.py --config configs/vp/digits.py --workdir workdir/vp_digits --mode train
      python main.py --config configs/vp/digits.py --workdir workdir/vp_digits --mode sample
Expect: a few minutes on 2 CPU cores; an 8x8 grid of digit-like samples.
"""

from configs import default_digits
from configs.variants import on_sde


def get_config():
    return on_sde(default_digits, "vpsde")
