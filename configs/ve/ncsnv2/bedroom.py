"""score_sde's configs/ve/ncsnv2/bedroom.py: NCSNv2 (the 128 px network) on LSUN bedroom 128: 1086 levels
from 190 to 0.01, 3 ALD steps each at snr 0.095, EMA 0.9999.

Run:  python main.py --config configs/ve/ncsnv2/bedroom.py --workdir workdir/ve_ncsnv2_bedroom \
          --config.data.data_dir=/path/to/lsun/bedroom  # a folder of the category's images
Expect: 83,445,379 parameters; the SMLD loss (days to weeks on 8 GPUs, not for a CPU). The paper's file
misspells training.continuous (`continuouse`), which leaves continuous training on and cannot run with
integer labels; here it is off. Data: LSUN bedroom images, centre-cropped to a square and resized
(bicubic) to 128; score_sde instead shrinks the shorter side to 128 (bilinear) and then crops, the same
region up to resampling.
"""

from configs import default_lsun


def get_config():
    config = default_lsun.get_config()
    config.training.sde = "vesde"
    config.training.continuous = False  # the SMLD loss over the N noise levels
    sampling = config.sampling
    sampling.method = "pc"
    sampling.predictor = "none"
    sampling.corrector = "ald"  # annealed Langevin dynamics
    sampling.n_steps_each = 3
    sampling.snr = 0.095
    model = config.model
    model.name = "ncsnv2_128"
    model.scale_by_sigma = True
    model.num_scales = 1086
    model.sigma_max = 190.0
    model.ema_rate = 0.9999
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
    config.training.batch_size = 128
    config.data.image_size = 128
    return config
