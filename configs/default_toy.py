"""Defaults for 2-D toy data with the residual MLP score network.

Run:  python main.py --config configs/default_toy.py --workdir workdir/toy --mode train
      python main.py --config configs/default_toy.py --workdir workdir/toy --mode sample
Expect: ~1.5 min of training on 2 CPU cores; samples/samples_8000.png shows the checkerboard.
"""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    config.seed = 0  # seeds parameters, data order, training noise and sampling
    config.num_devices = 0  # devices of the data-parallel mesh; 0: all visible (on all hosts)

    config.training = training = ml_collections.ConfigDict()
    training.sde = "vpsde"  # vpsde | subvpsde | vesde: the one switch between SDEs
    training.continuous = True  # continuous-time DSM; False: the discrete DDPM (VP) / SMLD (VE) loss
    training.reduce_mean = True  # mean (True) or half the sum (False) of the loss over dimensions
    training.likelihood_weighting = False  # weight g(t)^2 instead of sigma(t)^2 (Song et al. 2021b)
    training.eps = 1e-5  # training times t ~ U(eps, T)
    training.batch_size = 256
    training.n_iters = 8000  # optimizer steps in all
    training.n_jitted_steps = 50  # steps per jitted call (one lax.scan); every frequency is a multiple
    training.log_freq = 100  # steps between lines of metrics.jsonl / TensorBoard
    training.snapshot_freq = 4000  # steps between kept checkpoints in checkpoints/
    training.snapshot_freq_for_preemption = 500  # steps between the resumable checkpoint in checkpoints-meta/
    training.snapshot_sampling = True  # write a picture of EMA samples at every snapshot
    training.fsdp = False  # also shard parameters and optimizer state over the devices (large models)
    training.skip_nonfinite = False  # skip (no update) and count steps with a NaN/inf loss instead of stopping

    config.sampling = sampling = ml_collections.ConfigDict()
    sampling.method = "pc"  # pc | ode | a fast sampler (see samplers.METHODS)
    sampling.predictor = "euler_maruyama"  # pc: euler_maruyama | reverse_diffusion | ancestral_sampling | none
    sampling.corrector = "none"  # pc: langevin | ald | none
    sampling.snr = 0.16  # pc: signal-to-noise ratio of the corrector
    sampling.n_steps_each = 1  # pc: corrector steps per noise level
    sampling.noise_removal = True  # a final Tweedie denoising step
    sampling.eps = ml_collections.config_dict.placeholder(float)  # end time; None: the SDE's default
    sampling.rtol = 1e-5  # ode: tolerances of the adaptive solver
    sampling.atol = 1e-5
    sampling.solver = "tsit5"  # ode: tsit5 | dopri5 | dopri8 | bosh3
    sampling.nfe = 20  # fast samplers: score evaluations per sample
    sampling.grid = "logsnr"  # fast samplers: uniform_t | logsnr | karras | a .npy grid from --mode calibrate
    sampling.order = ml_collections.config_dict.placeholder(int)  # dpm_solver, unipc: 1 | 2 | 3; None: default 3
    sampling.variant = "bh2"  # unipc: B(h) = e^h - 1 (bh2) or h (bh1)
    sampling.calibration_pilot = 256  # --mode calibrate: pilot trajectories the grid is fitted to
    sampling.calibration_iters = 200  # --mode calibrate: Adam steps of the fit
    sampling.batch_size = 2000  # samples drawn at snapshots, per batch by --mode sample
    sampling.num_samples = 0  # --mode sample: this many into --samples_dir, one PNG each (0: one batch)

    config.eval = evaluate = ml_collections.ConfigDict()  # --mode eval
    evaluate.begin_step = 0  # evaluate the kept checkpoints with begin_step <= step <= end_step
    evaluate.end_step = -1  # -1: up to the newest
    evaluate.batch_size = 500  # test-set batch for the loss and the likelihood
    evaluate.loss_batches = 4  # test batches for the DSM loss (0: skip)
    evaluate.likelihood_batches = 1  # test batches for nats/dim or bits/dim (0: skip)
    evaluate.likelihood_rtol = 1e-5  # probability-flow ODE tolerances for the likelihood
    evaluate.likelihood_atol = 1e-5
    evaluate.num_samples = 2000  # samples for the quality metrics (0: skip) ...
    evaluate.rounds = 4  # ... drawn in this many rounds, each saved as it finishes
    evaluate.stats = ""  # images: FID against this statistics file (--mode stats; pytorch-fid's mu/sigma .npz)
    evaluate.inception = ""  # images: Inception weights .npz (--mode convert_inception); "": digits features

    config.model = model = ml_collections.ConfigDict()
    model.name = "mlp"  # mlp | ncsnpp | ddpmpp | ddpm
    model.ema_rate = 0.999
    model.num_scales = 1000  # N: discrete noise levels (PC sampling, discrete training)
    model.beta_min = 0.1  # VP / sub-VP
    model.beta_max = 20.0
    model.sigma_min = 0.01  # VE
    model.sigma_max = 10.0  # VE: about the largest distance between data points
    model.width = 128  # MLP hidden width
    model.num_blocks = 4  # MLP residual blocks
    model.nf = 64  # size of the time embedding
    model.embedding_type = "fourier"  # fourier (of log noise label: suits every SDE) | positional
    model.fourier_scale = 1.0

    config.data = data = ml_collections.ConfigDict()
    data.dataset = "checkerboard"  # checkerboard | swiss_roll | eight_gaussians | two_moons | gaussian_mixture
    data.centered = True
    data.uniform_dequantization = False
    data.random_flip = False

    config.optim = optim = ml_collections.ConfigDict()
    optim.optimizer = "Adam"
    optim.lr = 2e-3
    optim.beta1 = 0.9
    optim.eps = 1e-8
    optim.weight_decay = 0.0
    optim.warmup = 100  # steps of linear learning-rate warm-up
    optim.grad_clip = 1.0  # global-norm clipping; < 0 disables it
    return config
