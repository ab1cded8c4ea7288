"""The paper's CIFAR-10 defaults (Song et al. 2021, configs/default_cifar10_configs.py).

CIFAR-10 is read from the official binary archive on local disk (`data.data_dir`), never downloaded.
Run:  python main.py --config configs/vp/cifar10_ddpmpp_continuous.py --workdir workdir/cifar_vp \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: these are the paper's settings (1.3M steps of batch 128): days on 8 GPUs, not for a CPU.
"""

from configs import default_toy, fields

# The SDE's parameters on these data, per SDE (the paper's; see default_toy.SDE_PARAMETERS).
SDE_PARAMETERS = dict(default_toy.SDE_PARAMETERS, vesde=dict(sigma_min=0.01, sigma_max=50.0))


def get_config(sde="vpsde"):
    """This data set's config for the SDE called `sde`; the fields set here override default_toy.py's,
    where each is commented."""
    config = default_toy.get_config()
    training = config.training
    training.batch_size = 128
    training.n_iters = 1_300_001 - 1
    training.n_jitted_steps = 5
    training.log_freq = 50
    training.snapshot_freq = 50_000
    training.snapshot_freq_for_preemption = 10_000
    training.reduce_mean = False
    # The paper's recipe, so that its checkpoints and results stay reproducible (not the toy/digits recipe).
    training.ema_warmup = False
    training.t_sampling = "uniform"

    sampling = config.sampling
    sampling.batch_size = 64
    sampling.snr = 0.16
    sampling.n_steps_each = 1

    data = config.data
    data.dataset = "cifar10"
    data.data_dir = ""  # folder with data_batch_*.bin / test_batch.bin, or the .tar.gz archive
    data.image_size = 32
    data.centered = False
    data.uniform_dequantization = False
    data.random_flip = True

    model = config.model
    model.dropout = 0.1
    model.embedding_type = "fourier"
    model.parameterization = "sde"  # the paper's network output (EDM's preconditioning: "edm")
    for unused in ("width", "num_blocks", "input_fourier", "input_fourier_scale", "time_film"):
        del model[unused]

    optim = config.optim
    optim.lr = 2e-4
    optim.warmup = 5000
    optim.grad_clip = 1.0
    optim.decay = "constant"
    config.sde.num_scales = 1000
    return fields.set_sde(config, sde, SDE_PARAMETERS)
