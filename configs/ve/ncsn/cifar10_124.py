"""score_sde's configs/ve/ncsn/cifar10_124.py: NCSN (v1) with NCSNv2's techniques 1, 2, 4: 232 levels up to
the default sigma_max, 5 ALD steps each at snr 0.176; no EMA.

Run:  python main.py --config configs/ve/ncsn/cifar10_124.py --workdir workdir/ve_ncsn_cifar10_124 \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 44,828,931 parameters (one embedding row per level); the SMLD loss (days to weeks on 8 GPUs, not
for a CPU).
"""

from configs import default_cifar10
from configs.ve.ncsn import smld_setting


def get_config():
    return smld_setting(default_cifar10.get_config("vesde"), num_scales=232, n_steps_each=5, snr=0.176, ema_rate=0.0)
