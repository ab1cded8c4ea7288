"""Your own images: every PNG/JPEG under a folder, with the small DDPM++ U-Net of the digits config.

Run:  python main.py --config configs/image_folder.py --workdir workdir/mine --mode train \
          --config.data.data_dir=/path/to/images --config.data.image_size=16
      python main.py --config configs/image_folder.py --workdir workdir/mine --mode sample \
          --config.data.data_dir=/path/to/images --config.data.image_size=16 \
          --config.sampling.num_samples=256 --samples_dir workdir/mine/samples/first
The folder: PNG/JPEG files (sub-folders included), all of one size, square, a side the U-Net can
halve (a multiple of 2 with ch_mult=(1, 2)); grey ("L") or colour ("RGB") - other modes, or a mix,
need data.mode. The last data.eval_fraction of them (sorted by path) are held out.
Expect: 200 steps of 16x16 RGB at batch 64 took 5 min (0.65 steps/s, compilation included) on 2
CPU cores shared with other jobs (README, "Train on your own images"); use a GPU for real data.
"""

import ml_collections

from configs import default_digits, fields

SDE_PARAMETERS = dict(default_digits.SDE_PARAMETERS, vesde=dict(sigma_min=0.01, sigma_max=50.0))


def get_config(sde="vpsde"):
    config = default_digits.get_config()
    data = config.data
    data.dataset = "image_folder"
    data.data_dir = ""  # the folder of images (required)
    data.image_size = ml_collections.config_dict.placeholder(int)  # side of the square images; None: the first's
    data.mode = ml_collections.config_dict.placeholder(str)  # "L" or "RGB": convert every image; None: as stored
    data.eval_fraction = 0.1  # held-out share (the last files in sorted order), for --mode eval
    data.centered = True  # images in [-1, 1]
    data.random_flip = True  # horizontal flips (off for text, digits or anything not mirror-symmetric)
    data.uniform_dequantization = False
    return fields.set_sde(config, sde, SDE_PARAMETERS)  # VE's sigma_max: about the largest distance between images
