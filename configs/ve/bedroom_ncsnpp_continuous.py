"""score_sde's configs/ve/bedroom_ncsnpp_continuous.py: NCSN++ on LSUN bedroom 256 (VE, sigma_max=378).

Run:  python main.py --config configs/ve/bedroom_ncsnpp_continuous.py --workdir workdir/ve_bedroom_ncsnpp_continuous \
          --config.data.data_dir=/path/to/lsun/bedroom  # a folder of the category's images
Expect: 2.4M steps of batch 64 (days to weeks on 8 GPUs, not for a CPU); 65,574,549 parameters. Data: a
folder of LSUN bedroom images, centre-cropped to a square and resized (bicubic) to 256.
"""

from configs import default_lsun, fields
from configs.variants import on_sde


def get_config():
    config = on_sde(default_lsun, "vesde")
    config.training.continuous = True

    model = fields.use_model(config, "ncsnpp").model
    model.scale_by_sigma = False  # our VE SDE divides the output by sigma(t) already
    model.ema_rate = 0.999
    model.nonlinearity = "swish"
    model.nf = 128
    model.ch_mult = (1, 1, 2, 2, 2, 2, 2)
    model.num_res_blocks = 2
    model.attn_resolutions = (16,)
    model.resamp_with_conv = True
    model.conditional = True
    model.fir = True
    model.fir_kernel = (1, 3, 3, 1)
    model.skip_rescale = True
    model.resblock_type = "biggan"
    model.progressive = "output_skip"
    model.progressive_input = "input_skip"
    model.progressive_combine = "sum"
    model.init_scale = 0.0
    model.fourier_scale = 16.0
    model.embedding_type = "fourier"

    return config
