"""score_sde's configs/ve/ncsn/celeba_124.py: NCSN (v1) with NCSNv2's techniques 1, 2, 4: 500 levels up to
the default sigma_max, 5 ALD steps each at snr 0.128; no EMA.

Run:  python main.py --config configs/ve/ncsn/celeba_124.py --workdir workdir/ve_ncsn_celeba_124 \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: 57,384,195 parameters (one embedding row per level); the SMLD loss (days to weeks on 8 GPUs, not
for a CPU).
"""

from configs import default_celeba


def get_config():
    config = default_celeba.get_config()
    config.training.sde = "vesde"
    config.training.continuous = False  # the SMLD loss over the N noise levels
    sampling = config.sampling
    sampling.method = "pc"
    sampling.predictor = "none"
    sampling.corrector = "ald"  # annealed Langevin dynamics
    sampling.n_steps_each = 5
    sampling.snr = 0.128
    model = config.model
    model.name = "ncsn"
    model.scale_by_sigma = False
    model.num_scales = 500
    model.ema_rate = 0.0
    model.normalization = "InstanceNorm++"
    model.nonlinearity = "elu"
    model.nf = 128
    model.interpolation = "bilinear"
    optim = config.optim
    optim.lr = 0.001
    optim.beta1 = 0.9
    optim.eps = 1e-8
    optim.weight_decay = 0.0
    optim.warmup = 0
    optim.grad_clip = -1.0
    return config
