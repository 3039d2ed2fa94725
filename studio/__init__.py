"""InfraMind Studio: the library behind the tabs."""

import logging
import warnings

# bitsandbytes, imported by peft and transformers in every process that trains or generates, asks on a CPU with
# AVX512-BF16 for a 4-bit kernel from the Hugging Face hub and, failing, tells the user to `pip install kernels`.
# Its own CPU kernel serves instead (and the studio puts a 4-bit base on the CPU only when asked to, as `nf4`); with
# `kernels` installed it would try a download, which fails offline: nothing for a user to do, so the notice stays out
# of the terminal and train.log.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
# PEFT 0.21 reads transformers' `is_gradient_checkpointing` whenever it puts an adapter on a model, and TRL 1.16 passes
# `gradient_checkpointing`, both of which transformers 5.23 renamed: a FutureWarning in the app's terminal at each
# adapter loaded (the Compare, Evaluate and Export tabs), in the benches' output and in train.log, with nothing for a
# user to do.
warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.* is deprecated", category=FutureWarning)
