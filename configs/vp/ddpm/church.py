"""score_sde's configs/vp/ddpm/church.py: DDPM on LSUN church_outdoor 256 (discrete DDPM loss).

Run:  python main.py --config configs/vp/ddpm/church.py --workdir workdir/vp_ddpm_church \
          --config.data.data_dir=/path/to/lsun/church_outdoor  # a folder of the category's images
Expect: 2.4M steps of batch 64 (days to weeks on 8 GPUs, not for a CPU); 111,569,923 parameters. Data: a
folder of LSUN church_outdoor images, centre-cropped to a square and resized (bicubic) to 256, as
score_sde's crop_resize.
"""

from configs.vp.ddpm import bedroom


def get_config():
    return bedroom.get_config()  # the same setting; only the data folder differs
