"""score_sde's configs/ve/ffhq_ncsnpp_continuous.py: NCSN++ on FFHQ 1024 (VE, sigma_max=1348, N=2000).

Run:  python main.py --config configs/ve/ffhq_ncsnpp_continuous.py --workdir workdir/ve_ffhq_ncsnpp_continuous \
          --config.data.data_dir=/path/to/ffhq/images1024x1024
Expect: 2.4M steps of batch 8 (days to weeks on 8 GPUs, not for a CPU); 105,785,896 parameters; every
image is held in memory (3 MiB each).
"""

from configs.ve import celebahq_ncsnpp_continuous


def get_config():
    config = celebahq_ncsnpp_continuous.get_config()
    config.training.reduce_mean = True
    return config
