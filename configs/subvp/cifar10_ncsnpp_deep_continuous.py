"""score_sde's configs/subvp/cifar10_ncsnpp_deep_continuous.py: deep NCSN++ under the sub-VP SDE.

Run:  python main.py --config configs/subvp/cifar10_ncsnpp_deep_continuous.py --workdir workdir/subvp_cifar10_ncsnpp_deep_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 950k steps of batch 128 (days to weeks on 8 GPUs, not for a CPU).
"""

from configs.vp import cifar10_ncsnpp_deep_continuous


def get_config():
    config = cifar10_ncsnpp_deep_continuous.get_config()
    config.training.sde = "subvpsde"
    return config
