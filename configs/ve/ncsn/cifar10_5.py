"""score_sde's configs/ve/ncsn/cifar10_5.py: NCSN (v1) on cifar10, NCSN's setting (Song & Ermon 2019): 10
levels from 1 to 0.01, 100 ALD steps each; with EMA 0.999 (NCSNv2's technique 5).

Run:  python main.py --config configs/ve/ncsn/cifar10_5.py --workdir workdir/ve_ncsn_cifar10_5 \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 34,428,675 parameters; the SMLD loss (days to weeks on 8 GPUs, not for a CPU).
"""

from configs import default_cifar10
from configs.ve.ncsn import ncsn_v1


def get_config():
    return ncsn_v1(default_cifar10.get_config("vesde"), ema_rate=0.999)
