"""The paper's 256 px defaults (Song et al. 2021, configs/default_lsun_configs.py, also used for its
CelebA-HQ and FFHQ 256 configs) on top of the CIFAR-10 ones: batch 64, 2.4M steps, sigma_max = 378,
N = 2000, no dropout, snr 0.075, and the images from an image folder, preprocessed as score_sde's
`crop_resize` does it for LSUN: the largest centred square, resized (bicubic, antialiased) to 256.

Run:  python main.py --config configs/ve/church_ncsnpp_continuous.py --workdir workdir/church \
          --config.data.data_dir=/path/to/lsun/church_outdoor
Expect: these are the paper's settings: weeks on 8 GPUs, not for a CPU. Every image is held in memory
(192 KiB each at 256x256: LSUN church_outdoor's 126k images take 25 GB; bedroom's 3M do not fit).
"""

from configs import default_cifar10, fields

SDE_PARAMETERS = dict(default_cifar10.SDE_PARAMETERS, vesde=dict(sigma_min=0.01, sigma_max=378.0))  # the paper's


def get_config(sde="vpsde"):
    """This data set's config for the SDE called `sde`; the fields set here override default_cifar10.py's,
    where each is commented."""
    config = default_cifar10.get_config()
    training = config.training
    training.batch_size = 64
    training.n_iters = 2_400_000
    training.snapshot_freq_for_preemption = 5000
    config.sampling.snr = 0.075

    data = config.data
    data.dataset = "image_folder"
    data.data_dir = ""  # a folder of the category's images, e.g. LSUN exported to JPEG (searched recursively)
    data.image_size = 256
    data.center_crop = "square"  # the largest centred square; an int: that side; None: no crop
    data.resize = "bicubic"  # bilinear | bicubic | box (antialiased); None: images must be image_size already
    data.mode = "RGB"
    data.random_flip = True
    data.centered = False

    config.model.dropout = 0.0
    config.sde.num_scales = 2000  # N
    return fields.set_sde(config, sde, SDE_PARAMETERS)
