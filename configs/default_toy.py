"""Defaults for 2-D toy data with the residual MLP score network.

Run:  python main.py --config configs/default_toy.py --workdir workdir/toy --mode train
      python main.py --config configs/default_toy.py --workdir workdir/toy --mode sample
      python main.py --config configs/default_toy.py --workdir workdir/toy --mode calibrate \
          --config.sampling.method=learned --config.sampling.nfe=10   # prints how to sample with it
      python main.py --config configs/default_toy.py --workdir W --config.data.dataset=array_file \
          --config.data.path=points.npy      # your own 2-D points [N, 2] (.npy / .npz)
      python main.py --config configs/default_toy.py:vesde --workdir workdir/toy_ve   # another SDE
Expect: 2800 steps of batch 1024 in 49-56 s on the 2-core CPU with nothing else running; 97.8 / 97.35 /
98.0% of the samples inside the squares on seeds 0 / 1 / 2 (target 97%) and sliced W2 to fresh
checkerboard data 0.97 / 1.11 / 1.14x its floor averaged over 8 draws of data (python -m
benchmarks.recipe --data toy --seeds 0,1,2; README, "Training recipe").
"""

import ml_collections

from configs import fields

# The SDE's parameters on these data, per SDE: get_config(sde) writes its row into config.sde (the
# section holds the chosen SDE's fields only; --config.training.sde=NAME switches to NAME's defaults).
SDE_PARAMETERS = {
    "vpsde": dict(beta_min=0.1, beta_max=20.0),  # beta(t) from beta_min to beta_max (Song et al. 2021)
    "subvpsde": dict(beta_min=0.1, beta_max=20.0),
    "vesde": dict(sigma_min=0.01, sigma_max=10.0),  # sigma_max: about the largest distance between data points
}


def get_config(sde="vpsde"):
    config = ml_collections.ConfigDict()
    config.seed = 0  # seeds parameters, data order, training noise and sampling
    config.num_devices = 0  # devices of the data-parallel mesh; 0: all visible (on all hosts)

    config.training = training = ml_collections.ConfigDict()
    training.sde = "vpsde"  # vpsde | subvpsde | vesde: the SDE (its parameters: config.sde)
    training.continuous = True  # continuous-time DSM; False: the discrete DDPM (VP) / SMLD (VE) loss
    training.reduce_mean = True  # mean (True) or half the sum (False) of the loss over dimensions
    training.likelihood_weighting = False  # weight g(t)^2 instead of sigma(t)^2 (Song et al. 2021b)
    training.importance_sampling = False  # with likelihood_weighting: t drawn with density ~ g^2 / sigma^2
    training.t_sampling = "stratified"  # uniform (independent t) | stratified (one spread-out t per batch slot)
    training.t_density = "uniform_t"  # uniform_t | uniform_logsnr (lambda(t) uniform: more steps at low noise)
    training.eps = 1e-5  # training times t ~ U(eps, T)
    training.ema_warmup = True  # EMA decay min(model.ema_rate, (1 + n) / (10 + n)) at step n
    training.batch_size = 1024  # large batches: the low-noise score needs many points per step
    training.n_iters = 2800  # optimizer steps in all
    training.n_jitted_steps = 50  # steps per jitted call (one lax.scan); every frequency is a multiple
    training.log_freq = 100  # steps between lines of metrics.jsonl / TensorBoard
    training.snapshot_freq = 1400  # steps between kept checkpoints in checkpoints/
    training.snapshot_freq_for_preemption = 300  # steps between the resumable checkpoint in checkpoints-meta/
    training.snapshot_sampling = True  # write a picture of EMA samples at every snapshot
    training.fsdp = False  # also shard parameters and optimizer state over the devices (large models)
    training.skip_nonfinite = False  # skip (no update) and count steps with a NaN/inf loss instead of stopping

    config.sampling = sampling = ml_collections.ConfigDict()
    # EDM's stochastic sampler (101 score evaluations) stopped at t = 0.03 (VP: sigma / alpha = 0.11) and
    # denoised there (Tweedie). With the edm parameterisation the network is accurate that low (with the
    # sde one it was not below t = 0.1, the round-3 end time; README, "Training recipe").
    sampling.method = "edm_stochastic"  # pc | ode | a fast sampler (see samplers.METHODS)
    sampling.predictor = "euler_maruyama"  # pc: euler_maruyama | reverse_diffusion | ancestral_sampling | none
    sampling.corrector = "none"  # pc: langevin | ald | none
    sampling.snr = 0.16  # pc: signal-to-noise ratio of the corrector
    sampling.n_steps_each = 1  # pc: corrector steps per noise level
    sampling.noise_removal = True  # a final Tweedie denoising step
    sampling.eps = 0.03  # end time (None: the SDE's default)
    sampling.rtol = 1e-5  # ode: tolerances of the adaptive solver
    sampling.atol = 1e-5  # ode: absolute tolerance
    sampling.solver = "tsit5"  # ode: tsit5 | dopri5 | dopri8 | bosh3
    sampling.nfe = 101  # fast samplers: score evaluations per sample
    sampling.s_churn = 50.0  # edm_stochastic: noise added back per step (Karras et al. 2022, Alg. 2)
    sampling.grid = "logsnr"  # fast samplers: uniform_t | logsnr | karras | a .npy grid from --mode calibrate
    sampling.order = ml_collections.config_dict.placeholder(int)  # dpm_solver, unipc: 1 | 2 | 3; None: default 3
    sampling.variant = "bh2"  # unipc, learned: B(h) = e^h - 1 (bh2) or h (bh1)
    # learned: a .npz written by --mode calibrate with sampling.method=learned (its nfe, order, base,
    # variant and noise_removal must be given as fitted); None: the unfitted solver, i.e. its base
    sampling.learned_solver = ml_collections.config_dict.placeholder(str)
    sampling.base = "unipc"  # learned: the solver whose coefficients the fit starts from: unipc | dpmpp
    sampling.calibration_pilot = 256  # --mode calibrate: pilot trajectories the grid (or learned solver) is fitted to
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
    evaluate.likelihood_atol = 1e-5  # (absolute)
    evaluate.num_samples = 2000  # samples for the quality metrics (0: skip) ...
    evaluate.rounds = 4  # ... drawn in this many rounds, each saved as it finishes
    evaluate.stats = ""  # images: FID against this statistics file (--mode stats; pytorch-fid's mu/sigma .npz)
    evaluate.inception = ""  # images: Inception weights .npz (--mode convert_inception); "": digits features

    config.sde = sde_section = ml_collections.ConfigDict()  # the SDE's parameters (see SDE_PARAMETERS)
    sde_section.num_scales = 1000  # N: discrete noise levels (PC sampling, discrete training)

    # The network: model.name picks it; the section holds that network's fields only.
    config.model = model = ml_collections.ConfigDict()
    model.name = "mlp"  # mlp | ncsnpp | ddpmpp | ddpm | ncsn | ncsnv2
    model.ema_rate = 0.999  # decay of the parameters' exponential moving average (sampling uses the EMA)
    # sde (the paper's: the SDE's noise label and output) | edm (Karras et al. 2022). Round 4 of issue 14:
    # edm with the checkerboard's own spread 95.8 / 97.2 / 97.55% inside on seeds 0 / 1 / 2, sde 95.0 / 96.8 / 95.0%
    model.parameterization = "edm"
    model.sigma_data = 2.3  # edm: the data's standard deviation in c_skip, c_out, c_in and the loss weight (checkerboard: 2.3)
    model.width = 128  # MLP hidden width
    model.num_blocks = 4  # MLP residual blocks
    model.input_fourier = 128  # MLP: random Fourier features of the input (0: none)
    model.input_fourier_scale = 2.0  # MLP: their frequencies' standard deviation (cycles per data unit)
    model.nf = 16  # size of the time embedding (4 nf wide; 64 cost a third of the step at batch 1024)
    model.time_film = True  # MLP: the time embedding scales and shifts each block's features (FiLM) instead of adding a bias
    model.embedding_type = "fourier"  # fourier (of log noise label: suits every SDE) | positional
    model.fourier_scale = 1.0  # std of the Fourier time embedding's frequencies

    config.data = data = ml_collections.ConfigDict()
    data.dataset = "checkerboard"  # checkerboard | swiss_roll | eight_gaussians | two_moons | gaussian_mixture | array_file
    # data.dataset=array_file takes data.path (a .npy / .npz of vectors [N, D] or images [N, H, W, C],
    # uint8 or floats in [0, 1]) and data.key (the array's name in a .npz that holds several)
    data.centered = True  # data in [-1, 1] (True) or [0, 1]; the networks read it too
    data.uniform_dequantization = False  # images: (x + U[0, 1)) / 256 instead of x / 255 (x the 8-bit value)
    data.random_flip = False  # images: random horizontal flips

    config.optim = optim = ml_collections.ConfigDict()
    optim.optimizer = "Adam"  # the only one: Adam (AdamW where weight_decay > 0)
    optim.lr = 5e-3  # peak learning rate (with the warm-up and cosine decay, round-2 network: 2e-3 gave 84% inside the squares at 1800 steps, 5e-3 91%)
    optim.beta1 = 0.9  # Adam's first-moment decay
    optim.eps = 1e-8  # Adam's epsilon
    optim.weight_decay = 0.0  # decoupled weight decay (AdamW); 0: Adam
    optim.warmup = 100  # steps of linear learning-rate warm-up
    optim.decay = "cosine"  # constant | cosine | linear: the learning rate after warm-up, down to final_lr at n_iters
    optim.final_lr = 0.0  # the learning rate reached at n_iters by a decay
    optim.grad_clip = 1.0  # global-norm clipping; < 0 disables it
    return fields.set_sde(config, sde, SDE_PARAMETERS)
