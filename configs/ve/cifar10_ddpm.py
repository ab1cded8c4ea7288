"""score_sde's configs/ve/cifar10_ddpm.py: the DDPM U-Net trained with the SMLD loss (VE, discrete).

Run:  python main.py --config configs/ve/cifar10_ddpm.py --workdir workdir/ve_cifar10_ddpm \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); 35,218,947 parameters.
"""

from configs import default_cifar10
from configs.variants import on_sde
from configs.vp.ddpm import ddpm_setting


def get_config():
    config = ddpm_setting(on_sde(default_cifar10, "vesde"))
    config.training.continuous = False
    config.training.reduce_mean = False
    config.sampling.predictor = "reverse_diffusion"
    config.sampling.corrector = "langevin"
    config.data.centered = False
    config.model.ema_rate = 0.999
    config.model.scale_by_sigma = False  # our VE SDE divides the output by sigma(t) already
    return config
