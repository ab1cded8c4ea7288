"""score_sde's configs/ve/ncsn/celeba_124.py: NCSN (v1) with NCSNv2's techniques 1, 2, 4: 500 levels up to
the default sigma_max, 5 ALD steps each at snr 0.128; no EMA.

Run:  python main.py --config configs/ve/ncsn/celeba_124.py --workdir workdir/ve_ncsn_celeba_124 \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: 57,384,195 parameters (one embedding row per level); the SMLD loss (days to weeks on 8 GPUs, not
for a CPU).
"""

from configs import default_celeba
from configs.ve.ncsn import smld_setting


def get_config():
    return smld_setting(default_celeba.get_config("vesde"), num_scales=500, n_steps_each=5, snr=0.128, ema_rate=0.0)
