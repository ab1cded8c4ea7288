"""The per-SDE experiment files (configs/vp/, configs/subvp/, configs/ve/) as overrides of one base per
data set: the base's config for the SDE (its SDE_PARAMETERS row in config.sde) with the predictor and
corrector the paper pairs with that SDE (Song et al. 2021, Table 1 and its configs), run to the SDE's
own end time (the bases' default samplers are tuned for their VP recipe)."""

# sde -> (sampling.predictor, sampling.corrector)
PC_SAMPLER = {
    "vpsde": ("euler_maruyama", "none"),
    "subvpsde": ("euler_maruyama", "none"),
    "vesde": ("reverse_diffusion", "langevin"),
}


def on_sde(base, sde: str, **data):
    """`base.get_config(sde)` (a default_*.py module) with the SDE's PC sampler; `data` sets data fields."""
    config = base.get_config(sde)
    config.sampling.method = "pc"
    config.sampling.predictor, config.sampling.corrector = PC_SAMPLER[sde]
    if "eps" in config.sampling:
        config.sampling.eps = None  # the SDE's default end time
    for key, value in data.items():
        config.data[key] = value
    return config
