"""score_sde's configs/ve/celebahq_256_ncsnpp_continuous.py: NCSN++ on CelebA-HQ 256 (VE, sigma_max=348).

Run:  python main.py --config configs/ve/celebahq_256_ncsnpp_continuous.py --workdir workdir/ve_celebahq_256_ncsnpp_continuous \
          --config.data.data_dir=/path/to/celebahq/images
Expect: 2.4M steps of batch 64 (days to weeks on 8 GPUs, not for a CPU); 65,574,549 parameters. Data: a
folder of CelebA-HQ images at 256x256 (larger ones are box-filtered down to 256, as the paper's
tfrecords were made); no crop.
"""

from configs.ve import bedroom_ncsnpp_continuous


def get_config():
    config = bedroom_ncsnpp_continuous.get_config()
    config.data.center_crop = None
    config.data.resize = "box"
    config.sde.sigma_max = 348.0
    return config
