"""The paper's cifar10 ncsnpp deep continuous setting: vesde, NCSN++, 8 residual blocks per resolution.

Run:  python main.py --config configs/ve/cifar10_ncsnpp_deep_continuous.py --workdir workdir/ve_cifar10_ncsnpp_deep_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days on 8 GPUs); FID 2.38 (deep: 2.20) in the paper.
"""

from configs.ve import cifar10_ncsnpp_continuous


def get_config():
    config = cifar10_ncsnpp_continuous.get_config()
    config.model.num_res_blocks = 8
    return config
