"""score_sde's configs/subvp/cifar10_ddpm_continuous.py: the DDPM U-Net under the sub-VP SDE, continuous
DSM.

Run:  python main.py --config configs/subvp/cifar10_ddpm_continuous.py --workdir workdir/subvp_cifar10_ddpm_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); 35,218,947 parameters.
"""

from configs.vp.ddpm import cifar10_continuous


def get_config():
    config = cifar10_continuous.get_config()
    config.training.sde = "subvpsde"
    return config
