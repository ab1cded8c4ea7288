"""score_sde's configs/ve/ncsn/cifar10.py: NCSN (v1) on cifar10, NCSN's setting (Song & Ermon 2019): 10
levels from 1 to 0.01, 100 ALD steps each; no EMA.

Run:  python main.py --config configs/ve/ncsn/cifar10.py --workdir workdir/ve_ncsn_cifar10 \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: NCSN v1 (34,428,675 parameters), trained with the SMLD loss (days to weeks on 8 GPUs, not for a
CPU). Song & Ermon (2019) report FID 25.32, IS 8.87.
"""

from configs import default_cifar10
from configs.ve.ncsn import ncsn_v1


def get_config():
    return ncsn_v1(default_cifar10.get_config("vesde"), ema_rate=0.0)
