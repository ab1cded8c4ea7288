"""score_sde's configs/ve/ncsn/celeba_5.py: NCSN (v1) on celeba, NCSN's setting (Song & Ermon 2019): 10
levels from 1 to 0.01, 100 ALD steps each; with EMA 0.999 (NCSNv2's technique 5).

Run:  python main.py --config configs/ve/ncsn/celeba_5.py --workdir workdir/ve_ncsn_celeba_5 \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: 34,428,675 parameters; the SMLD loss (days to weeks on 8 GPUs, not for a CPU).
"""

from configs import default_celeba
from configs.ve.ncsn import ncsn_v1


def get_config():
    return ncsn_v1(default_celeba.get_config("vesde"), ema_rate=0.999)
