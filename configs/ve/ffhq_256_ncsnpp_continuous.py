"""score_sde's configs/ve/ffhq_256_ncsnpp_continuous.py: NCSN++ on FFHQ 256 (VE, sigma_max=348).

Run:  python main.py --config configs/ve/ffhq_256_ncsnpp_continuous.py --workdir workdir/ve_ffhq_256_ncsnpp_continuous \
          --config.data.data_dir=/path/to/ffhq/images
Expect: 2.4M steps of batch 64 (days to weeks on 8 GPUs, not for a CPU); 65,574,549 parameters. Data: a
folder of FFHQ images at 256x256 (larger ones are box-filtered down to 256, as the paper's tfrecords
were made); no crop.
"""

from configs.ve import celebahq_256_ncsnpp_continuous


def get_config():
    return celebahq_256_ncsnpp_continuous.get_config()  # the same setting; only the data folder differs
