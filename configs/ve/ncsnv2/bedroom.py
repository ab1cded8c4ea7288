"""score_sde's configs/ve/ncsnv2/bedroom.py: NCSNv2 (the 128 px network) on LSUN bedroom 128: 1086 levels
from 190 to 0.01, 3 ALD steps each at snr 0.095, EMA 0.9999.

Run:  python main.py --config configs/ve/ncsnv2/bedroom.py --workdir workdir/ve_ncsnv2_bedroom \
          --config.data.data_dir=/path/to/lsun/bedroom  # a folder of the category's images
Expect: 83,445,379 parameters; the SMLD loss (days to weeks on 8 GPUs, not for a CPU). The paper's file
misspells training.continuous (`continuouse`), which leaves continuous training on and cannot run with
integer labels; here it is off. Data: LSUN bedroom images, centre-cropped to a square and resized
(bicubic) to 128; score_sde instead shrinks the shorter side to 128 (bilinear) and then crops, the same
region up to resampling.
"""

from configs import default_lsun
from configs.ve.ncsn import smld_setting


def get_config():
    config = smld_setting(default_lsun.get_config("vesde"), name="ncsnv2_128", scale_by_sigma=True, lr=0.0001,
                          num_scales=1086, sigma_max=190.0, n_steps_each=3, snr=0.095, ema_rate=0.9999)
    config.training.batch_size = 128
    config.data.image_size = 128
    return config
