"""DDPM's setting (Ho et al. 2020), shared by the configs/vp/ddpm/ files (and configs/ve/cifar10_ddpm.py):
the discrete loss, ancestral sampling, and score_sde's port of the DDPM U-Net."""

from configs import fields


def ddpm_setting(config, *, ch_mult=(1, 2, 2, 2)):
    """Sets DDPM's setting on a data set's default `config` for its SDE (the VP one for DDPM itself; in
    place) and returns it; `ch_mult` sets the U-Net's depth (one entry per resolution)."""
    config.training.continuous = False
    config.training.reduce_mean = True
    config.sampling.method = "pc"
    config.sampling.predictor = "ancestral_sampling"
    config.sampling.corrector = "none"
    config.data.centered = True
    model = fields.use_model(config, "ddpm").model
    model.scale_by_sigma = False
    model.ema_rate = 0.9999
    model.nonlinearity = "swish"
    model.nf = 128
    model.ch_mult = ch_mult
    model.num_res_blocks = 2
    model.attn_resolutions = (16,)
    model.resamp_with_conv = True
    model.conditional = True
    model.embedding_type = "positional"  # score_sde's DDPM always embeds the labels sinusoidally
    model.attn_layout = "per_resolution"  # score_sde's port; Ho et al.: "every_block"
    model.num_groups = 32
    return config
