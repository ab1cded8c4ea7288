"""score_sde's configs/ve/cifar10_ncsnpp_deep_continuous.py: NCSN++ with 8 residual blocks per resolution
(VE).

Run:  python main.py --config configs/ve/cifar10_ncsnpp_deep_continuous.py --workdir workdir/ve_cifar10_ncsnpp_deep_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 950k steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); 107,587,075 parameters; FID
2.20, IS 9.89 in the paper (its best).
"""

from configs.ve import cifar10_ncsnpp_continuous


def get_config():
    config = cifar10_ncsnpp_continuous.get_config()
    config.model.num_res_blocks = 8
    config.training.n_iters = 950_000
    return config
