"""subvpsde on the 2-D two moons set with the residual MLP.

Run:  python main.py --config configs/subvp/two_moons.py --workdir workdir/subvp_two_moons --mode train
      python main.py --config configs/subvp/two_moons.py --workdir workdir/subvp_two_moons --mode sample
Expect: 1-3 min of training on 2 CPU cores; a scatter plot of samples over the data.
"""

from configs import default_toy
from configs.variants import on_sde


def get_config():
    return on_sde(default_toy, "subvpsde", dataset="two_moons")
