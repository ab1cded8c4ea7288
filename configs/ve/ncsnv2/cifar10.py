"""score_sde's configs/ve/ncsnv2/cifar10.py: NCSNv2 (Song & Ermon 2020) on cifar10: 232 levels, 5 ALD steps
each at snr 0.176, EMA 0.999.

Run:  python main.py --config configs/ve/ncsnv2/cifar10.py --workdir workdir/ve_ncsnv2_cifar10 \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: NCSNv2 (33,970,563 parameters), trained with the SMLD loss (days to weeks on 8 GPUs, not for a
CPU). Song & Ermon (2020) report FID 10.87 on CIFAR-10.
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
    model.name = "ncsnv2_64"
    model.scale_by_sigma = True
    model.num_scales = 232
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
