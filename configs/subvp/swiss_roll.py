"""subvpsde on the 2-D swiss roll set with the residual MLP.

Run:  python main.py --config configs/subvp/swiss_roll.py --workdir workdir/subvp_swiss_roll --mode train
      python main.py --config configs/subvp/swiss_roll.py --workdir workdir/subvp_swiss_roll --mode sample
Expect: 1-3 min of training on 2 CPU cores; a scatter plot of samples over the data.
"""

from configs import default_toy
from configs.variants import on_sde


def get_config():
    return on_sde(default_toy, "subvpsde", dataset="swiss_roll")
