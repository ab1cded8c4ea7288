"""score_sde's configs/vp/cifar10_ncsnpp.py: NCSN++ with the discrete DDPM loss (VP, N=1000).

Run:  python main.py --config configs/vp/cifar10_ncsnpp.py --workdir workdir/vp_cifar10_ncsnpp \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); reverse-diffusion predictor,
no corrector.
"""

from configs.vp import cifar10_ncsnpp_continuous


def get_config():
    config = cifar10_ncsnpp_continuous.get_config()
    config.training.continuous = False
    config.sampling.predictor = "reverse_diffusion"
    config.sampling.corrector = "none"
    return config
