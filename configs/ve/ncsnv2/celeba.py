"""score_sde's configs/ve/ncsnv2/celeba.py: NCSNv2 (Song & Ermon 2020) on celeba: 500 levels, 5 ALD steps
each at snr 0.128, EMA 0.999.

Run:  python main.py --config configs/ve/ncsnv2/celeba.py --workdir workdir/ve_ncsnv2_celeba \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: NCSNv2 (33,970,563 parameters), trained with the SMLD loss (days to weeks on 8 GPUs, not for a
CPU).
"""

from configs import default_celeba
from configs.ve.ncsn import smld_setting


def get_config():
    return smld_setting(default_celeba.get_config("vesde"), name="ncsnv2_64", scale_by_sigma=True, lr=0.0001,
                        num_scales=500, n_steps_each=5, snr=0.128, ema_rate=0.999)
