"""NCSN's setting (Song & Ermon 2019, 2020), shared by the configs/ve/ncsn/ and configs/ve/ncsnv2/ files:
the VE SDE trained with the SMLD loss over its N noise levels, sampled by annealed Langevin dynamics, and
the NCSN optimiser (Adam, no warmup, no gradient clipping)."""


from configs import fields


def smld_setting(config, *, name="ncsn", num_scales, n_steps_each, snr, ema_rate, sigma_max=None,
                 scale_by_sigma=False, lr=0.001):
    """Sets NCSN's setting on a data set's default `config` for the VE SDE (`get_config("vesde")`; in
    place) and returns it; sigma_max=None keeps the data set's."""
    if config.training.sde != "vesde":
        raise ValueError(f"NCSN's setting is the VE SDE's; got training.sde={config.training.sde!r}")
    config.training.continuous = False  # the SMLD loss over the N noise levels
    sampling = config.sampling
    sampling.method = "pc"
    sampling.predictor = "none"
    sampling.corrector = "ald"  # annealed Langevin dynamics
    sampling.n_steps_each = n_steps_each
    sampling.snr = snr
    config.sde.num_scales = num_scales
    if sigma_max is not None:
        config.sde.sigma_max = sigma_max
    model = fields.use_model(config, name).model
    model.scale_by_sigma = scale_by_sigma
    model.ema_rate = ema_rate
    model.normalization = "InstanceNorm++"
    model.nonlinearity = "elu"
    model.nf = 128
    model.interpolation = "bilinear"
    optim = config.optim
    optim.lr = lr
    optim.beta1 = 0.9
    optim.eps = 1e-8
    optim.weight_decay = 0.0
    optim.warmup = 0
    optim.grad_clip = -1.0
    return config


def ncsn_v1(config, *, ema_rate):
    """NCSN v1 in NCSN's own setting: 10 levels from 1 to 0.01, 100 ALD steps each at snr 0.316."""
    return smld_setting(config, num_scales=10, sigma_max=1.0, n_steps_each=100, snr=0.316, ema_rate=ema_rate)
