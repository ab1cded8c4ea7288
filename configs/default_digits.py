"""Defaults for the embedded 8x8 handwritten digits (no download) with a small DDPM++ U-Net.

Run:  python main.py --config configs/default_digits.py --workdir workdir/digits --mode train
      python main.py --config configs/default_digits.py --workdir workdir/digits --mode sample
Expect: 800 steps, 157 s at 5.1 steps/s on the 2-core CPU with nothing else running; FID of 297 samples
in the digits classifier's feature space 31.1-37.1 at 31-101 NFE over 3 sampling seeds on make demo's
model (floor 35.2, target 1.25x; python -m benchmarks.trained --workdir workdir/demo/digits --seeds
0,1,2 --rows edm_stochastic), make demo's own samples 23.4 = 0.66x; 1000 steps: 0.84x; 600 steps:
1.33x (README, "Training recipe").
"""

from configs import default_toy, fields

# The SDE's parameters on these data, per SDE (see default_toy.SDE_PARAMETERS).
SDE_PARAMETERS = dict(
    default_toy.SDE_PARAMETERS,
    vesde=dict(sigma_min=0.01, sigma_max=30.0),  # sigma_max: about the largest distance between two images
)


def get_config(sde="vpsde"):
    """This data set's config for the SDE called `sde`; the fields set here override default_toy.py's,
    where each is commented."""
    config = default_toy.get_config()
    training = config.training
    training.batch_size = 64
    training.n_iters = 800  # FID 0.92x the floor (0.66x in make demo); 1000: 0.84x, 600: 1.33x, 2000: 0.35x
    training.n_jitted_steps = 1  # XLA:CPU runs U-Net gradients slowly inside loops; raise it on GPU/TPU
    training.log_freq = 100
    training.snapshot_freq = 800
    training.snapshot_freq_for_preemption = 200

    sampling = config.sampling
    sampling.batch_size = 300  # as many as the 297 held-out digits that FID's floor is measured with
    # EDM's stochastic sampler, 101 score evaluations to the SDE's end time, then a Tweedie step: at 600
    # steps FID 1.33x the floor in 40 s of sampling, against 1.45x in 1622 s with the EM predictor (load ~13).
    sampling.method = "edm_stochastic"
    sampling.predictor = "euler_maruyama"  # with --config.sampling.method=pc
    sampling.corrector = "none"
    sampling.eps = None  # the SDE's end time (the toy default stops earlier)
    # 101 / 51 / 31 NFE on make demo's 800-step model, 3 sampling seeds: FID 31.7 / 37.1 / 31.1 (seeds
    # span 27.8-34.7 / 30.9-40.9 / 29.8-33.0; floor 35.2): within the seeds' spread, so half the cost
    sampling.nfe = 51
    sampling.s_churn = 50.0

    data = config.data
    data.dataset = "digits"
    data.image_size = 8  # 8 (native) or larger, bilinearly resized
    data.centered = True  # images in [-1, 1]
    data.uniform_dequantization = False
    data.random_flip = False  # digits are not mirror-symmetric

    model = config.model
    model.name = "ddpmpp"
    model.ema_rate = 0.999
    model.parameterization = "sde"  # the paper's network output (the toy default's is edm)
    model.sigma_data = 0.5  # --config.model.parameterization=edm: images in [-1, 1]
    model.nf = 32
    model.ch_mult = (1, 2)
    model.num_res_blocks = 1
    model.attn_resolutions = (4,)
    model.dropout = 0.0
    model.resamp_with_conv = True
    model.conditional = True
    model.embedding_type = "fourier"  # log(noise label): works for every SDE's label
    model.fourier_scale = 16.0
    model.resblock_type = "biggan"
    model.skip_rescale = True
    model.init_scale = 0.0
    model.progressive = "none"
    model.progressive_input = "none"
    model.progressive_combine = "sum"
    model.fir = False
    model.fir_kernel = (1, 3, 3, 1)
    model.scale_by_sigma = False
    for unused in ("width", "num_blocks", "input_fourier", "input_fourier_scale", "time_film"):
        del model[unused]

    config.optim.lr = 1e-3
    config.optim.warmup = 200
    return fields.set_sde(config, sde, SDE_PARAMETERS)
