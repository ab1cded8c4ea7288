"""score_sde's configs/vp/ddpm/bedroom.py: DDPM on LSUN bedroom 256 (discrete DDPM loss).

Run:  python main.py --config configs/vp/ddpm/bedroom.py --workdir workdir/vp_ddpm_bedroom \
          --config.data.data_dir=/path/to/lsun/bedroom  # a folder of the category's images
Expect: 2.4M steps of batch 64 (days to weeks on 8 GPUs, not for a CPU); 111,569,923 parameters. Data: a
folder of LSUN bedroom images, centre-cropped to a square and resized (bicubic) to 256, as score_sde's
crop_resize.
"""

from configs import default_lsun
from configs.vp.ddpm import ddpm_setting


def get_config():
    config = ddpm_setting(default_lsun.get_config(), ch_mult=(1, 1, 2, 2, 4, 4))
    config.sde.num_scales = 1000
    config.model.dropout = 0.0
    config.optim.lr = 2e-5
    return config
