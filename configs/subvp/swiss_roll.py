"""subvpsde on the 2-D swiss roll set with the residual MLP.

Run:  python main.py --config configs/subvp/swiss_roll.py --workdir workdir/subvp_swiss_roll --mode train
      python main.py --config configs/subvp/swiss_roll.py --workdir workdir/subvp_swiss_roll --mode sample
Expect: 1-3 min of training on 2 CPU cores; a scatter plot of samples over the data.
"""

from configs import default_toy


def get_config():
    config = default_toy.get_config()
    config.training.sde = "subvpsde"
    config.data.dataset = "swiss_roll"
    config.sampling.predictor = "euler_maruyama"
    config.sampling.corrector = "none"
    config.sampling.method = "pc"  # the predictor and corrector above (default_toy samples otherwise)
    config.sampling.eps = None  # the SDE's default end time
    return config
