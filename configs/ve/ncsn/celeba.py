"""score_sde's configs/ve/ncsn/celeba.py: NCSN (v1) on celeba, NCSN's setting (Song & Ermon 2019): 10
levels from 1 to 0.01, 100 ALD steps each; no EMA.

Run:  python main.py --config configs/ve/ncsn/celeba.py --workdir workdir/ve_ncsn_celeba \
          --config.data.data_dir=/path/to/celeba/img_align_celeba
Expect: NCSN v1 (34,428,675 parameters), trained with the SMLD loss (days to weeks on 8 GPUs, not for a
CPU). (The paper's file sets training.loss instead of training.sde, a typo.)
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
    sampling.n_steps_each = 100
    sampling.snr = 0.316
    model = config.model
    model.name = "ncsn"
    model.scale_by_sigma = False
    model.num_scales = 10
    model.sigma_max = 1.0
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
