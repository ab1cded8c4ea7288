"""score_sde's configs/ve/cifar10_ncsnpp.py: NCSN++ trained with the SMLD loss (VE, N=1000 discrete
levels).

Run:  python main.py --config configs/ve/cifar10_ncsnpp.py --workdir workdir/ve_cifar10_ncsnpp \
          --config.data.data_dir=/path/to/cifar-10-batches-bin
Expect: 1.3M steps of batch 128 (days to weeks on 8 GPUs, not for a CPU); 62,693,251 parameters. As in
the paper the noise level is embedded sinusoidally (positional); here the label is sigma(t) (the
paper's: the level's index).
"""

from configs.ve import cifar10_ncsnpp_continuous


def get_config():
    config = cifar10_ncsnpp_continuous.get_config()
    config.training.continuous = False
    config.model.embedding_type = "positional"
    return config
