"""score_sde's configs/vp/ddpm/celebahq.py: DDPM on CelebA-HQ 256 (discrete DDPM loss).

Run:  python main.py --config configs/vp/ddpm/celebahq.py --workdir workdir/vp_ddpm_celebahq \
          --config.data.data_dir=/path/to/celeba_hq/256
Expect: 2.4M steps of batch 64 (days to weeks on 8 GPUs, not for a CPU); 111,569,923 parameters. Data: a
folder of CelebA-HQ images at 256x256 (larger ones, e.g. 1024, are box-filtered down to 256, as the
PGGAN tfrecords were made).
"""

from configs.vp.ddpm import bedroom


def get_config():
    config = bedroom.get_config()
    config.data.center_crop = None
    config.data.resize = "box"
    return config
