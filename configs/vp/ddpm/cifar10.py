"""score_sde's configs/vp/ddpm/cifar10.py: DDPM (Ho et al. 2020) on CIFAR-10 with the discrete DDPM loss.

Run:  python main.py --config configs/vp/ddpm/cifar10.py --workdir workdir/vp_ddpm_cifar10 \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); Ho et al. report FID 3.17 with
ancestral sampling. The U-Net is score_sde's port (attention once per up-path resolution, GroupNorm with
32 groups): 35,218,947 parameters.
"""

from configs import default_cifar10


def get_config():
    config = default_cifar10.get_config()
    config.training.sde = "vpsde"
    config.training.continuous = False
    config.training.reduce_mean = True
    config.sampling.method = "pc"
    config.sampling.predictor = "ancestral_sampling"
    config.sampling.corrector = "none"
    config.data.centered = True
    model = config.model
    model.name = "ddpm"
    model.scale_by_sigma = False
    model.ema_rate = 0.9999
    model.nonlinearity = "swish"
    model.nf = 128
    model.ch_mult = (1, 2, 2, 2)
    model.num_res_blocks = 2
    model.attn_resolutions = (16,)
    model.resamp_with_conv = True
    model.conditional = True
    model.embedding_type = "positional"  # score_sde's DDPM always embeds the labels sinusoidally
    model.attn_layout = "per_resolution"  # score_sde's port; Ho et al.: "every_block"
    model.num_groups = 32
    return config
