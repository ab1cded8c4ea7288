"""score_sde's configs/vp/ddpm/cifar10.py: DDPM (Ho et al. 2020) on CIFAR-10 with the discrete DDPM loss.

Run:  python main.py --config configs/vp/ddpm/cifar10.py --workdir workdir/vp_ddpm_cifar10 \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); Ho et al. report FID 3.17 with
ancestral sampling. The U-Net is score_sde's port (attention once per up-path resolution, GroupNorm with
32 groups): 35,218,947 parameters.
"""

from configs import default_cifar10
from configs.vp.ddpm import ddpm_setting


def get_config():
    return ddpm_setting(default_cifar10.get_config())
