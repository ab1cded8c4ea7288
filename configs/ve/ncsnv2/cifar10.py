"""score_sde's configs/ve/ncsnv2/cifar10.py: NCSNv2 (Song & Ermon 2020) on cifar10: 232 levels, 5 ALD steps
each at snr 0.176, EMA 0.999.

Run:  python main.py --config configs/ve/ncsnv2/cifar10.py --workdir workdir/ve_ncsnv2_cifar10 \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: NCSNv2 (33,970,563 parameters), trained with the SMLD loss (days to weeks on 8 GPUs, not for a
CPU). Song & Ermon (2020) report FID 10.87 on CIFAR-10.
"""

from configs import default_cifar10
from configs.ve.ncsn import smld_setting


def get_config():
    return smld_setting(default_cifar10.get_config("vesde"), name="ncsnv2_64", scale_by_sigma=True, lr=0.0001,
                        num_scales=232, n_steps_each=5, snr=0.176, ema_rate=0.999)
