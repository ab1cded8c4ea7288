"""score_sde's configs/ve/celebahq_ncsnpp_continuous.py: NCSN++ on CelebA-HQ 1024 (VE, sigma_max=1348,
N=2000).

Run:  python main.py --config configs/ve/celebahq_ncsnpp_continuous.py --workdir workdir/ve_celebahq_ncsnpp_continuous \
          --config.data.data_dir=/path/to/celeba_hq/1024
Expect: 2.4M steps of batch 8 (days to weeks on 8 GPUs, not for a CPU); 105,785,896 parameters; every
image is held in memory (3 MiB each).
"""

from configs.ve import celebahq_256_ncsnpp_continuous


def get_config():
    config = celebahq_256_ncsnpp_continuous.get_config()
    training = config.training
    training.batch_size = 8
    training.reduce_mean = False
    config.sampling.snr = 0.15
    config.data.image_size = 1024
    config.sde.sigma_max = 1348.0
    config.sde.num_scales = 2000
    model = config.model
    model.ema_rate = 0.9999
    model.nf = 16
    model.ch_mult = (1, 2, 4, 8, 16, 32, 32, 32)
    model.num_res_blocks = 1
    model.dropout = 0.0
    return config
