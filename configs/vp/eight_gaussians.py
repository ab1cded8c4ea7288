"""vpsde on the 2-D eight gaussians set with the residual MLP.

Run:  python main.py --config configs/vp/eight_gaussians.py --workdir workdir/vp_eight_gaussians --mode train
      python main.py --config configs/vp/eight_gaussians.py --workdir workdir/vp_eight_gaussians --mode sample
Expect: 1-3 min of training on 2 CPU cores; a scatter plot of samples over the data.
"""

from configs import default_toy
from configs.variants import on_sde


def get_config():
    return on_sde(default_toy, "vpsde", dataset="eight_gaussians")
