"""score_sde's configs/ve/ncsnv2/celeba.py: NCSNv2 (Song & Ermon 2020) on celeba: 500 levels, 5 ALD steps
each at snr 0.128, EMA 0.999.

Run:  python main.py --config configs/ve/ncsnv2/celeba.py --workdir workdir/ve_ncsnv2_celeba \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: NCSNv2 (33,970,563 parameters), trained with the SMLD loss (days to weeks on 8 GPUs, not for a
CPU).
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
    model.name = "ncsnv2_64"
    model.scale_by_sigma = True
    model.num_scales = 500
    model.ema_rate = 0.999
    model.normalization = "InstanceNorm++"
    model.nonlinearity = "elu"
    model.nf = 128
    model.interpolation = "bilinear"
    optim = config.optim
    optim.lr = 0.0001
    optim.beta1 = 0.9
    optim.eps = 1e-8
    optim.weight_decay = 0.0
    optim.warmup = 0
    optim.grad_clip = -1.0
    return config
