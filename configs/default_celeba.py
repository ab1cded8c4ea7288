"""The paper's CelebA 64 defaults (Song et al. 2021, configs/default_celeba_configs.py) on top of the
CIFAR-10 ones: sigma_max = 90, snr 0.17, and CelebA from an image folder, preprocessed as score_sde's
`datasets.py` does it: each aligned 178x218 image centre-cropped to 140x140, then resized
(bilinear, antialiased) to 64x64.

Run:  python main.py --config configs/ve/ncsnv2/celeba.py --workdir workdir/celeba_ncsnv2 \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: these are the paper's settings (1.3M steps of batch 128): days on 8 GPUs, not for a CPU. The
202,599 images are held in memory (2.5 GB at 64x64); the last 10% (sorted by name) are held out.
"""

from configs import default_cifar10, fields

SDE_PARAMETERS = dict(default_cifar10.SDE_PARAMETERS, vesde=dict(sigma_min=0.01, sigma_max=90.0))  # the paper's


def get_config(sde="vpsde"):
    """This data set's config for the SDE called `sde`; the fields set here override default_cifar10.py's,
    where each is commented."""
    config = default_cifar10.get_config()
    config.sampling.snr = 0.17

    data = config.data
    data.dataset = "image_folder"
    data.data_dir = ""  # a folder of CelebA's img_align_celeba/*.jpg (searched recursively)
    data.image_size = 64
    data.center_crop = 140  # side of the centred square crop, before resizing
    data.resize = "bilinear"
    data.mode = "RGB"
    data.random_flip = True
    data.centered = False
    return fields.set_sde(config, sde, SDE_PARAMETERS)
