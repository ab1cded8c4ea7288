"""score_sde's configs/ve/celeba_ncsnpp.py: NCSN++ on CelebA 64 with the SMLD loss (VE, sigma_max=90).

Run:  python main.py --config configs/ve/celeba_ncsnpp.py --workdir workdir/ve_celeba_ncsnpp \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU). Data: a folder of CelebA's
aligned 178x218 images, centre-cropped to 140x140 and resized (bilinear) to 64, as score_sde does.
"""

from configs import default_celeba
from configs.variants import on_sde
from configs.ve import cifar10_ncsnpp


def get_config():
    config = on_sde(default_celeba, "vesde")
    config.training.continuous = False
    config.model = cifar10_ncsnpp.get_config().model  # the network of the CIFAR-10 file; the SDE is CelebA's
    return config
