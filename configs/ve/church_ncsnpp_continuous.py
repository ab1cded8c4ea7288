"""score_sde's configs/ve/church_ncsnpp_continuous.py: NCSN++ on LSUN church_outdoor 256 (VE,
sigma_max=380).

Run:  python main.py --config configs/ve/church_ncsnpp_continuous.py --workdir workdir/ve_church_ncsnpp_continuous \
          --config.data.data_dir=/path/to/lsun/church_outdoor  # a folder of the category's images
Expect: 2.4M steps of batch 64 (days to weeks on 8 GPUs, not for a CPU); 65,574,549 parameters. Data as
configs/ve/bedroom_ncsnpp_continuous.py.
"""

from configs.ve import bedroom_ncsnpp_continuous


def get_config():
    config = bedroom_ncsnpp_continuous.get_config()
    config.sde.sigma_max = 380.0
    return config
