"""The paper's cifar10 ddpmpp deep continuous setting: subvpsde, DDPM++, 8 residual blocks per resolution.

Run:  python main.py --config configs/subvp/cifar10_ddpmpp_deep_continuous.py --workdir workdir/subvp_cifar10_ddpmpp_deep_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 950k steps of batch 128 (days on 8 GPUs); FID 2.41-2.92 in the paper.
"""

from configs.subvp import cifar10_ddpmpp_continuous


def get_config():
    config = cifar10_ddpmpp_continuous.get_config()
    config.model.num_res_blocks = 8
    config.training.n_iters = 950_000  # the paper's deep runs are shorter
    return config
