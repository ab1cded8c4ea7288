"""score_sde's configs/vp/ddpm/cifar10_unconditional.py: the DDPM U-Net without noise conditioning.

Run:  python main.py --config configs/vp/ddpm/cifar10_unconditional.py --workdir workdir/vp_ddpm_cifar10_unconditional \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); 32,329,347 parameters (no time
embedding).
"""

from configs.vp.ddpm import cifar10


def get_config():
    config = cifar10.get_config()
    config.model.conditional = False
    return config
