"""score_sde's configs/ve/ncsn/cifar10_1245.py: NCSN (v1) with NCSNv2's techniques 1, 2, 4, 5 (232 levels,
EMA 0.999).

Run:  python main.py --config configs/ve/ncsn/cifar10_1245.py --workdir workdir/ve_ncsn_cifar10_1245 \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 44,828,931 parameters; the SMLD loss (days to weeks on 8 GPUs, not for a CPU).
"""

from configs import default_cifar10


def get_config():
    config = default_cifar10.get_config()
    config.training.sde = "vesde"
    config.training.continuous = False  # the SMLD loss over the N noise levels
    sampling = config.sampling
    sampling.method = "pc"
    sampling.predictor = "none"
    sampling.corrector = "ald"  # annealed Langevin dynamics
    sampling.n_steps_each = 5
    sampling.snr = 0.176
    model = config.model
    model.name = "ncsn"
    model.scale_by_sigma = False
    model.num_scales = 232
    model.ema_rate = 0.999
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
