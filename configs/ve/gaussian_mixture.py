"""vesde on the 2-D gaussian mixture set with the residual MLP.

Run:  python main.py --config configs/ve/gaussian_mixture.py --workdir workdir/ve_gaussian_mixture --mode train
      python main.py --config configs/ve/gaussian_mixture.py --workdir workdir/ve_gaussian_mixture --mode sample
Expect: 1-3 min of training on 2 CPU cores; a scatter plot of samples over the data.
"""

from configs import default_toy
from configs.variants import on_sde


def get_config():
    return on_sde(default_toy, "vesde", dataset="gaussian_mixture")
