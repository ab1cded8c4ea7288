"""The paper's cifar10 ncsnpp continuous setting: vesde, NCSN++, 4 residual blocks per resolution.

Run:  python main.py --config configs/ve/cifar10_ncsnpp_continuous.py --workdir workdir/ve_cifar10_ncsnpp_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days on 8 GPUs); FID 2.38 (deep: 2.20) in the paper.
"""

from configs import default_cifar10, fields
from configs.variants import on_sde


def get_config():
    config = on_sde(default_cifar10, "vesde")
    config.training.continuous = True
    config.sampling.method = "pc"
    model = fields.use_model(config, "ncsnpp").model
    model.nf = 128
    model.ch_mult = (1, 2, 2, 2)
    model.num_res_blocks = 4
    model.attn_resolutions = (16,)
    model.resamp_with_conv = True
    model.conditional = True
    model.dropout = 0.1
    model.skip_rescale = True
    model.init_scale = 0.0
    model.fourier_scale = 16.0
    model.embedding_type = "fourier"
    model.resblock_type = "biggan"
    model.progressive = "none"  # the paper's CIFAR-10 settings (its high-resolution configs: output_skip /
    model.progressive_input = "residual"  # input_skip); 62,758,915 parameters, as the paper's network
    model.progressive_combine = "sum"
    model.fir = True
    model.fir_kernel = (1, 3, 3, 1)
    model.ema_rate = 0.999
    model.scale_by_sigma = False  # our VE SDE divides the output by sigma(t) already
    config.data.centered = False
    return config
