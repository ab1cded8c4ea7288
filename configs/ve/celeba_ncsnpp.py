"""score_sde's configs/ve/celeba_ncsnpp.py: NCSN++ on CelebA 64 with the SMLD loss (VE, sigma_max=90).

Run:  python main.py --config configs/ve/celeba_ncsnpp.py --workdir workdir/ve_celeba_ncsnpp \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU). Data: a folder of CelebA's
aligned 178x218 images, centre-cropped to 140x140 and resized (bilinear) to 64, as score_sde does.
"""

from configs import default_celeba
from configs.ve import cifar10_ncsnpp


def get_config():
    config = default_celeba.get_config()
    ncsnpp = cifar10_ncsnpp.get_config()
    config.training.sde = "vesde"
    config.training.continuous = False
    config.sampling.predictor = "reverse_diffusion"
    config.sampling.corrector = "langevin"
    for key, value in ncsnpp.model.items():
        if key not in ("sigma_max", "sigma_min", "num_scales"):
            config.model[key] = value
    return config
