"""vpsde on the 2-D checkerboard set with the residual MLP.

Run:  python main.py --config configs/vp/checkerboard.py --workdir workdir/vp_checkerboard --mode train
      python main.py --config configs/vp/checkerboard.py --workdir workdir/vp_checkerboard --mode sample
Expect: 1-3 min of training on 2 CPU cores; a scatter plot of samples over the data.
"""

from configs import default_toy


def get_config():
    config = default_toy.get_config()
    config.training.sde = "vpsde"
    config.data.dataset = "checkerboard"
    config.sampling.predictor = "euler_maruyama"
    config.sampling.corrector = "none"
    config.sampling.method = "pc"  # the predictor and corrector above (default_toy samples otherwise)
    config.sampling.eps = None  # the SDE's default end time
    return config
