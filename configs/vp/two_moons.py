"""vpsde on the 2-D two moons set with the residual MLP.

Run:  python main.py --config configs/vp/two_moons.py --workdir workdir/vp_two_moons --mode train
      python main.py --config configs/vp/two_moons.py --workdir workdir/vp_two_moons --mode sample
Expect: 1-3 min of training on 2 CPU cores; a scatter plot of samples over the data.
"""

from configs import default_toy


def get_config():
    config = default_toy.get_config()
    config.training.sde = "vpsde"
    config.data.dataset = "two_moons"
    config.sampling.predictor = "euler_maruyama"
    config.sampling.corrector = "none"
    config.sampling.method = "pc"  # the predictor and corrector above (default_toy samples otherwise)
    config.sampling.eps = None  # the SDE's default end time
    return config
