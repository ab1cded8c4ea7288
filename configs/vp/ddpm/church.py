"""score_sde's configs/vp/ddpm/church.py: DDPM on LSUN church_outdoor 256 (discrete DDPM loss).

Run:  python main.py --config configs/vp/ddpm/church.py --workdir workdir/vp_ddpm_church \
          --config.data.data_dir=/path/to/lsun/church_outdoor  # a folder of the category's images
Expect: 2.4M steps of batch 64 (days to weeks on 8 GPUs, not for a CPU); 111,569,923 parameters. Data: a
folder of LSUN church_outdoor images, centre-cropped to a square and resized (bicubic) to 256, as
score_sde's crop_resize.
"""

from configs import default_lsun
from configs.vp.ddpm import cifar10


def get_config():
    config = default_lsun.get_config()
    config.training.sde = "vpsde"
    config.training.continuous = False
    config.training.reduce_mean = True
    config.sampling.predictor = "ancestral_sampling"
    config.sampling.corrector = "none"
    config.data.centered = True
    model = config.model
    ddpm = cifar10.get_config().model
    for key in ("name", "scale_by_sigma", "ema_rate", "nonlinearity", "nf", "num_res_blocks", "attn_resolutions",
                "resamp_with_conv", "conditional", "embedding_type", "attn_layout", "num_groups"):
        model[key] = ddpm[key]
    model.ch_mult = (1, 1, 2, 2, 4, 4)
    model.num_scales = 1000
    model.dropout = 0.0
    config.optim.lr = 2e-5
    return config
