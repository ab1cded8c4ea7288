"""score_sde's configs/vp/cifar10_ncsnpp_continuous.py: NCSN++ (FIR, residual input path) under the VP SDE.

Run:  python main.py --config configs/vp/cifar10_ncsnpp_continuous.py --workdir workdir/vp_cifar10_ncsnpp_continuous \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); 62,693,251 parameters.
"""

from configs import fields
from configs.vp import cifar10_ddpmpp_continuous


def get_config():
    config = cifar10_ddpmpp_continuous.get_config()
    model = fields.use_model(config, "ncsnpp").model
    model.fir = True
    model.progressive = "none"
    model.progressive_input = "residual"
    model.embedding_type = "positional"  # of the DDPM step index 999 t
    return config
