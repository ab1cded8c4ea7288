"""score_sde's configs/ve/ncsn/celeba.py: NCSN (v1) on celeba, NCSN's setting (Song & Ermon 2019): 10
levels from 1 to 0.01, 100 ALD steps each; no EMA.

Run:  python main.py --config configs/ve/ncsn/celeba.py --workdir workdir/ve_ncsn_celeba \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: NCSN v1 (34,428,675 parameters), trained with the SMLD loss (days to weeks on 8 GPUs, not for a
CPU). (The paper's file sets training.loss instead of training.sde, a typo.)
"""

from configs import default_celeba
from configs.ve.ncsn import ncsn_v1


def get_config():
    return ncsn_v1(default_celeba.get_config("vesde"), ema_rate=0.0)
