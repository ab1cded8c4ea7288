"""The paper's cifar10 ddpmpp continuous setting: vpsde, DDPM++, 4 residual blocks per resolution.

Run:  python main.py --config configs/vp/cifar10_ddpmpp_continuous.py --workdir workdir/vp_cifar10_ddpmpp_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days on 8 GPUs); FID 2.41 (deep: 2.41) in the paper.
"""

from configs import default_cifar10, fields
from configs.variants import on_sde


def get_config():
    config = on_sde(default_cifar10, "vpsde")
    config.training.continuous = True
    config.sampling.method = "pc"
    model = fields.use_model(config, "ddpmpp").model
    model.nf = 128
    model.ch_mult = (1, 2, 2, 2)
    model.num_res_blocks = 4
    model.attn_resolutions = (16,)
    model.resamp_with_conv = True
    model.conditional = True
    model.dropout = 0.1
    model.skip_rescale = True
    model.init_scale = 0.0
    model.embedding_type = "positional"
    model.resblock_type = "biggan"
    model.progressive = "none"
    model.progressive_input = "none"
    model.progressive_combine = "sum"
    model.fir = False
    model.fir_kernel = (1, 3, 3, 1)
    model.ema_rate = 0.9999
    model.scale_by_sigma = False
    config.data.centered = True
    config.training.reduce_mean = True
    return config
