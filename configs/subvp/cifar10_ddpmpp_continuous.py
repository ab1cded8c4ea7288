"""The paper's cifar10 ddpmpp continuous setting: subvpsde, DDPM++, 4 residual blocks per resolution.

Run:  python main.py --config configs/subvp/cifar10_ddpmpp_continuous.py --workdir workdir/subvp_cifar10_ddpmpp_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days on 8 GPUs); FID 2.41-2.92 in the paper.
"""

from configs.vp import cifar10_ddpmpp_continuous


def get_config():
    config = cifar10_ddpmpp_continuous.get_config()
    config.training.sde = "subvpsde"
    return config
