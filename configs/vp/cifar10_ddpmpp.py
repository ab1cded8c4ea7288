"""score_sde's configs/vp/cifar10_ddpmpp.py: DDPM++ trained with the discrete DDPM loss (VP, N=1000).

Run:  python main.py --config configs/vp/cifar10_ddpmpp.py --workdir workdir/vp_cifar10_ddpmpp \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); sample with ancestral
sampling.
"""

from configs.vp import cifar10_ddpmpp_continuous


def get_config():
    config = cifar10_ddpmpp_continuous.get_config()
    config.training.continuous = False
    config.sampling.predictor = "ancestral_sampling"
    config.sampling.corrector = "none"
    return config
