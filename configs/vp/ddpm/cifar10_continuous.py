"""score_sde's configs/vp/ddpm/cifar10_continuous.py: the DDPM U-Net trained with continuous DSM (VP SDE).

Run:  python main.py --config configs/vp/ddpm/cifar10_continuous.py --workdir workdir/vp_ddpm_cifar10_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); Euler-Maruyama sampling.
"""

from configs.vp.ddpm import cifar10


def get_config():
    config = cifar10.get_config()
    config.training.continuous = True
    config.sampling.predictor = "euler_maruyama"
    return config
