"""InfraMind Studio: the library behind the tabs."""

import logging

# bitsandbytes, imported by peft and transformers in every process that trains or generates, asks on a CPU with
# AVX512-BF16 for a 4-bit kernel from the Hugging Face hub and, failing, tells the user to `pip install kernels`.
# Its own kernel serves instead, the studio never needs the hub's (a 4-bit base is for CUDA), and the installed
# `kernels` would only try a download: nothing for a user to do, so the notice stays out of the terminal and train.log.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
