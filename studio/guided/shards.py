"""Guided decoding's masks computed by worker processes, the batch's rows split among them, while the GPU runs the
step.

    >>> from studio.guided.shards import ShardedGuide
    >>> guide = ShardedGuide(tokenizer, kinds, budget=512, vocab_size=vocab, workers=8)   # as GuidedLogitsProcessor
    >>> engine.generate(prompts, 512, 0.0, eos_ids, pad_id, logits_processor=guide)        # studio.decoder.Rollout

Why: on the H200 device a step of the 0.5B model for 32 rows takes about 4 ms, and the masks of those 32 rows took
6-14 ms of one core (grammar and bans; ninth session, `bench/sweeps/results/gpu-h200.md`). llguidance's own thread
pool does not shorten them: on this 2-core CPU the 32 masks of a step took 6.1 ms on one thread and 6.9 on two (also
with rows on separately compiled grammars; Python threads 5.4), while two processes of 16 rows each took 3.6 ms
each, side by side. So each worker process holds a `GuidedLogitsProcessor` over its share of the rows (its own
grammars, bans and budget ending), takes the tokens chosen last, and writes its rows' masks into shared memory; the
main process sends the tokens, waits for the masks and applies them where the logits are.

One choice needs the logits, which stay on the card: where a Terraform block lacking a required name would close,
the row may only begin a name it lacks, if `}` is the grammar's likeliest token (`GuidedLogitsProcessor.
_ban_repeats`). A worker hands such rows back with both masks, and the choice is made on the card, for all of them
at once. The answers are those of `GuidedLogitsProcessor` in one process, token for token
(`tests/guided/test_shards.py`).

The workers are started once per process, as fresh interpreters (a forked child of a process that holds a CUDA
context may not use it; multiprocessing's spawn would run the caller's main script again), kept for the next batch,
and each compiles its grammars once and walks seed answers through them (`decoding.warm`), all side by side. A caller
that knows it will guide on a GPU starts them early (`prepare`), so that they are ready when its first batch begins.
"""

from __future__ import annotations

import os
import pickle
import struct
import threading
import time
import traceback

import numpy

# Worker processes at most; `default_workers` chooses. INFRAMIND_GUIDE_WORKERS sets the number (0: none).
# Fourteenth session, one H100 (16 cores, an Intel Xeon slower than the H200's host), grammar g17 with its bans and
# the block ending, batch 32, fresh warmed workers (`bench/guided.py ... --workers 14 8 --warm 2 --fresh-workers`):
# Terraform 68.5% of the unguided speed with 14 workers (2-3 rows each), 58.6% with 8; Kubernetes 60.2%, 59.3%.
MAX_WORKERS = 16
# Whether a GPU's guided batches use workers unless INFRAMIND_GUIDE_WORKERS says. Measured on one H200 (twelfth
# session; `bench/guided.py --model qwen2.5-0.5b-random --tokenizer qwen2.5 --batch 32 --tokens 256 --decoder studio
# --engines llguidance --workers 0 8 4 --rounds 2`, 16 cores): Terraform 15.6-46.8% of the unguided speed in this
# process, 79.5-83.4% with 8 workers, 80.6-82.0% with 4; Kubernetes 21.9-28.6%, 53.4-58.8%, 53.3-60.6%, and with
# the bans' arrays packed once (decoding.PACK_ONCE) 67.2% in the first batch, 83.1% after, with 8 workers.
AUTO_ON_GPU = True
ROWS_PER_WORKER = 2  # fewer rows than this per worker and the messages cost more than the masks
WORKERS_ENV = "INFRAMIND_GUIDE_WORKERS"
REPLY_TIMEOUT_S = 600  # a worker compiles its grammars at its first batch (seconds); after that a step is ms

# A step's messages skip pickling, both ways: the main process sends STEP and the new tokens' bytes; a worker whose
# step steered and completed no row answers STEP and its figures packed (QUIET: the parts' seconds, the compile's,
# and its counts), else with the whole reply pickled. A pickled send of a step's tokens took 14 us, raw bytes 3 us,
# between two processes on this 2-core CPU (sixteenth session), and the main process sends to one worker after
# another.
STEP = b"\x00"  # no pickle begins with it (protocol 2 and later begin with \x80)
PARTS = ("grammar", "bans", "budget")
COUNTS = ("failed", "closed_early", "repeats_banned")
QUIET = struct.Struct("<4d3q")  # PARTS' seconds, compile_seconds, COUNTS

# The module settings of `studio.guided.decoding` a worker's processor reads, copied from the caller's at each batch
_SETTINGS = ("BUDGET_ENDING", "REPEAT_BANS", "REQUIRED_BANS", "COMMENT_BANS", "COMMENT_RUNS", "YAML_LINE_LIMIT",
             "TERRAFORM_LINE_LIMIT", "BLOCK_ENDING", "FINISH_WITHIN", "CLOSE_MARGIN", "WRITE_MISSING", "MISSING_TOKENS",
             "KIND_FIRST")


def default_workers(rows: int, device) -> int:
    """How many worker processes compute the masks of a batch of `rows` decoded on `device`: INFRAMIND_GUIDE_WORKERS
    where it is set; none on a CPU (the model's matrix products use its cores) or while AUTO_ON_GPU is off; else up
    to MAX_WORKERS, ROWS_PER_WORKER rows each at least, and two cores left to the main process."""
    if os.environ.get(WORKERS_ENV, "").strip():
        return max(0, int(os.environ[WORKERS_ENV]))
    if getattr(device, "type", str(device)) != "cuda" or not AUTO_ON_GPU:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(MAX_WORKERS, cores - 2, rows // ROWS_PER_WORKER)
    return workers if workers >= 2 else 0


class ShardedGuide:
    """`GuidedLogitsProcessor`'s interface (`__call__(input_ids, scores)`, one per `generate` call) with the rows'
    masks computed by `workers` processes."""

    def __init__(self, tokenizer, kinds: list[str | None] | None = None, budget: int | None = None,
                 vocab_size: int | None = None, workers: int = 2):
        if workers < 1:
            raise ValueError("a ShardedGuide needs one worker at least")
        self.tokenizer = tokenizer
        self.kinds = list(kinds) if kinds is not None else None
        self.budget = budget
        self.vocab_size = vocab_size
        self.workers = workers
        self.seen = 0
        self.failed = 0
        self.closed_early = 0
        self.repeats_banned = 0
        self.mask_seconds = 0.0  # the main process's wait for the masks, and their choosing and applying
        self.part_seconds = {"grammar": 0.0, "bans": 0.0, "budget": 0.0}  # the slowest worker's, per step
        self.compile_seconds = 0.0
        self._shards: list[list[int]] | None = None
        self._pool: list[_Worker] = []
        self._shared = None
        self._masks = None
        self._pinned = self._copied = None  # see `_on_device`
        self._complete: list[int] = []
        self._end_ids: list[int] = []

    def __call__(self, input_ids, scores):
        import torch

        started = time.perf_counter()
        if self._shards is None:
            self._start(input_ids, self.vocab_size or scores.shape[-1])
        else:
            new = input_ids[:, self.seen:].cpu().numpy().astype(numpy.int64, copy=False)  # on the GPU in `generate`
            for worker, rows in zip(self._pool, self._shards):
                worker.send_step(new[rows])
        self.seen = input_ids.shape[1]
        steer: list[int] = []
        slowest = {part: 0.0 for part in self.part_seconds}
        for worker in self._pool:
            reply = worker.receive_step()
            steer += reply["steer"]
            self._complete += reply["complete"]
            self.failed += reply["failed"]
            self.closed_early += reply["closed_early"]
            self.repeats_banned += reply["repeats_banned"]
            self.compile_seconds += reply["compile_seconds"]
            for part, seconds in reply["parts"].items():
                slowest[part] = max(slowest[part], seconds)
        for part, seconds in slowest.items():
            self.part_seconds[part] += seconds
        masks = self._on_device(scores.device)
        if steer:
            masks[steer] = self._steered(scores, steer, masks[steer])
        from studio.guided.decoding import apply_bitmask, end_only

        apply_bitmask(scores, masks)
        end_only(scores, sorted(self._complete), self._end_ids)
        self.mask_seconds += time.perf_counter() - started
        return scores

    def _on_device(self, device):
        """The rows' masks on `device`. To a GPU through a pinned buffer, without waiting: a copy from the shared
        memory (pageable) would hold this process until the card had finished the step's forward pass, then copy."""
        import torch

        if device.type != "cuda":
            return torch.from_numpy(self._masks[0]).to(device)
        if self._pinned is None:
            self._pinned = torch.empty(self._masks[0].shape, dtype=torch.int32, pin_memory=True)
        else:
            self._copied.synchronize()  # the last step's copy out of the buffer is done
        self._pinned.numpy()[:] = self._masks[0]
        masks = self._pinned.to(device, non_blocking=True)
        self._copied = torch.cuda.Event()
        self._copied.record()
        return masks

    def _steered(self, scores, rows: list[int], kept):
        """The masks of `rows`: steered (to a name the block lacks) where the grammar's likeliest token closes the
        block, else `kept`, as `GuidedLogitsProcessor._ban_repeats` chooses, on the logits' device."""
        import torch

        from studio.guided.decoding import apply_bitmask

        steered = torch.from_numpy(self._masks[1][rows]).to(scores.device)
        grammar = torch.from_numpy(self._masks[2][rows]).to(scores.device)
        closes = torch.from_numpy(self._masks[3][rows]).to(scores.device)
        likeliest = scores[rows].float().clone()
        apply_bitmask(likeliest, grammar)
        token = likeliest.argmax(-1)
        word = closes.gather(1, (token >> 5)[:, None])[:, 0]
        closing = ((word >> (token & 31).to(word.dtype)) & 1).bool()
        return torch.where(closing[:, None], steered, kept)

    def _start(self, input_ids, vocab_size: int) -> None:
        from multiprocessing import shared_memory

        from studio.generation import end_of_turn_ids
        from studio.guided import decoding

        kinds = self.kinds
        if kinds is None:
            prompts = self.tokenizer.batch_decode(input_ids, skip_special_tokens=False)
            kinds = [decoding.kind_of_prompt(text) for text in prompts]
        if len(kinds) != input_ids.shape[0]:
            raise ValueError(f"{len(kinds)} kinds for a batch of {input_ids.shape[0]} rows")
        batch = input_ids.shape[0]
        count = min(self.workers, batch)
        self._shards = [list(range(batch))[i::count] for i in range(count)]
        self._pool = _pool(count)
        self._end_ids = end_of_turn_ids(self.tokenizer)
        words = (vocab_size + 31) // 32
        # each row's mask; for steered rows, the steered mask, the grammar's, and the tokens that would close
        shape = (4, batch, words)
        self._shared = shared_memory.SharedMemory(create=True, size=int(numpy.prod(shape)) * 4)
        self._masks = numpy.ndarray(shape, dtype=numpy.int32, buffer=self._shared.buf)
        self._masks[:] = -1
        key = decoding._tokenizer_key(self.tokenizer, vocab_size)
        settings = {name: getattr(decoding, name) for name in _SETTINGS}
        prompts = input_ids.cpu().numpy()
        _sent()
        for worker, rows in zip(self._pool, self._shards):  # all asked first: the workers get ready side by side
            _ready(worker, self.tokenizer, key, {kinds[r] for r in rows if kinds[r]}, vocab_size)
        for worker in self._pool:
            self.compile_seconds += worker.settle()
        for worker, rows in zip(self._pool, self._shards):
            worker.send(("start", key, settings, [kinds[r] for r in rows], rows, prompts[rows], vocab_size,
                         self.budget, self._shared.name, shape))

    def __del__(self):
        self.close()

    def close(self) -> None:
        """Free the shared masks (the workers stay for the next batch)."""
        shared, self._shared, self._masks, self._pinned = self._shared, None, None, None
        if shared is not None:
            try:
                shared.close()
                shared.unlink()
            except (FileNotFoundError, BufferError):
                pass


class _Worker:
    """One worker process (`python -m studio.guided.shards`) and the connection to it."""

    def __init__(self):
        import multiprocessing.connection
        import socket
        import subprocess
        import sys
        from pathlib import Path

        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])
        # a fresh interpreter rather than multiprocessing's spawn, which runs the caller's main script again
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
                   CUDA_VISIBLE_DEVICES="")
        self.process = subprocess.Popen([sys.executable, "-m", "studio.guided.shards", str(theirs.fileno())],
                                        pass_fds=[theirs.fileno()], env=env)
        theirs.close()
        self.connection = multiprocessing.connection.Connection(ours.detach())
        self.tokenizers: set = set()
        self.grammars: dict[str, str] = {}  # kind -> the Lark source the worker holds
        self.warmed: set[tuple] = set()  # (tokenizer key, kind, Lark source) compiled and warmed (`decoding.warm`)
        self.pending = 0  # replies owed to messages sent by `ask`

    def ask(self, message) -> None:
        """Send a message whose reply `settle` collects later (the workers compile side by side)."""
        self.send(message)
        self.pending += 1

    def settle(self) -> float:
        """Wait for the replies owed; returns the seconds the worker spent compiling and warming meanwhile."""
        _sent()
        seconds = 0.0
        while self.pending:
            reply = self.receive()
            self.pending -= 1
            seconds += reply.get("seconds", 0.0)
        return seconds

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message) -> None:
        self._send_bytes(pickle.dumps(message))

    def send_step(self, tokens) -> None:
        """A step's new tokens for the worker's rows (int64, rows x columns), as raw bytes after STEP."""
        self._send_bytes(STEP + tokens.tobytes())

    def _send_bytes(self, data: bytes) -> None:
        try:
            self.connection.send_bytes(data)
        except (OSError, ValueError):
            raise _ended() from None

    def receive(self) -> dict:
        return self._reply(pickle.loads(self._receive_bytes()))

    def receive_step(self) -> dict:
        """A step's reply, from its packed figures (QUIET) where no row was steered or completed."""
        data = self._receive_bytes()
        if data[:1] != STEP:
            return self._reply(pickle.loads(data))
        figures = QUIET.unpack_from(data, len(STEP))
        return {"steer": [], "complete": [], "parts": dict(zip(PARTS, figures[:3])), "compile_seconds": figures[3],
                **dict(zip(COUNTS, figures[4:]))}

    def _receive_bytes(self) -> bytes:
        from studio.guided.decoding import GuidedDecodingError

        try:
            if not self.connection.poll(REPLY_TIMEOUT_S):
                raise GuidedDecodingError(f"a guided-decoding worker gave no masks in {REPLY_TIMEOUT_S} s")
            return self.connection.recv_bytes()
        except (EOFError, OSError):
            raise _ended() from None

    @staticmethod
    def _reply(reply) -> dict:
        from studio.guided.decoding import GuidedDecodingError

        if isinstance(reply, dict) and "error" in reply:
            raise GuidedDecodingError(f"a guided-decoding worker failed:\n{reply['error']}")
        return reply


def _ended():
    from studio.guided.decoding import GuidedDecodingError

    return GuidedDecodingError("a guided-decoding worker process ended (out of memory?); the next batch starts "
                               f"another. Set {WORKERS_ENV}=0 to compute the masks in this process.")


_POOL: list[_Worker] = []
_SENDING: list = []  # `prepare`'s threads sending their messages


def _pool(count: int) -> list[_Worker]:
    """`count` live workers, started where fewer are running."""
    _POOL[:] = [worker for worker in _POOL if worker.alive()]
    while len(_POOL) < count:
        _POOL.append(_Worker())
    return _POOL[:count]


def stop() -> None:
    """End the worker processes (the next guided batch on a GPU starts fresh ones)."""
    _sent()
    for worker in _POOL:
        try:
            worker.connection.close()
            worker.process.wait(timeout=10)
        except Exception:  # noqa: BLE001 - ending it whatever state it is in
            worker.process.kill()
    _POOL.clear()


def _ready(worker: _Worker, tokenizer, key: tuple, kinds: set[str], vocab_size: int) -> None:
    """Ask `worker` for what it lacks to guide rows of `kinds`: the tokenizer, this process's grammars, each
    compiled and warmed (`decoding.warm`). The replies are owed (`_Worker.settle`)."""
    from studio.guided import decoding
    from studio.guided.grammars import grammar

    if key not in worker.tokenizers:
        worker.ask(("tokenizer", key, pickle.dumps(tokenizer)))
        worker.tokenizers.add(key)
    sources = {kind: grammar(kind) for kind in sorted(kinds)}  # this process's, whichever folder holds them
    # the grammars (megabytes) first: a message waits in the socket until the worker has read it, and a worker
    # reads the next only once it has warmed the kind before
    for kind, source in sources.items():
        if worker.grammars.get(kind) != source.lark:
            worker.ask(("grammar", source))
            worker.grammars[kind] = source.lark
    for kind, source in sources.items():
        if (key, kind, source.lark) not in worker.warmed:
            worker.ask(("warm", key, kind, vocab_size, decoding.WARM_ANSWERS))
            worker.warmed.add((key, kind, source.lark))


def prepare(tokenizer, vocab_size: int, workers: int, kinds=None) -> list[_Worker]:
    """Start `workers` worker processes and have each compile and warm the grammars of `kinds` (default: every
    kind) for `tokenizer`, without waiting: a caller that will guide a batch on a GPU calls it before loading or
    while doing other work, and the first batch's workers are ready (their replies are collected then)."""
    from studio.chat import KINDS
    from studio.guided import decoding

    _sent()
    pool = _pool(workers)
    key = decoding._tokenizer_key(tokenizer, vocab_size)

    def send() -> None:
        for worker in pool:
            _ready(worker, tokenizer, key, set(kinds or KINDS), vocab_size)

    # sent from a thread: each message waits until its worker, a fresh interpreter, has imported what it needs
    thread = threading.Thread(target=send, name="guided-workers", daemon=True)
    thread.start()
    _SENDING.append(thread)
    return pool


def _sent() -> None:
    """Wait until `prepare`'s messages are sent (no other thread then writes to the workers)."""
    while _SENDING:
        _SENDING.pop().join()


def _serve(connection) -> None:
    """A worker's loop: keep a `GuidedLogitsProcessor` over its rows of the batch and answer each step with their
    masks, written into the batch's shared memory."""
    import torch

    torch.set_num_threads(1)
    from multiprocessing import shared_memory

    from studio.guided import decoding

    decoding.EXECUTOR_THREADS = 1
    tokenizers, processor, shared, masks, rows, history = {}, None, None, None, [], None
    while True:
        try:
            data = connection.recv_bytes()
        except (EOFError, KeyboardInterrupt):
            return
        try:
            message = ("step",) if data[:1] == STEP else pickle.loads(data)
            if message[0] == "tokenizer":
                tokenizers[message[1]] = pickle.loads(message[2])
                connection.send({})
                continue
            if message[0] == "grammar":  # the caller's grammar of a kind, compiled afresh
                from studio.guided import grammars

                grammars._FILES[message[1].kind] = message[1]
                for key in [key for key in decoding._COMPILED if key[:2] == (decoding.DEFAULT_ENGINE, message[1].kind)]:
                    del decoding._COMPILED[key]
                decoding._WARMED -= {key for key in decoding._WARMED if key[0] == message[1].kind}
                connection.send({})
                continue
            if message[0] == "warm":  # compile a kind's grammar and walk seed answers through its masks
                key, kind, vocab_size, answers = message[1:]
                connection.send({"seconds": sum(decoding.warm(tokenizers[key], kind, vocab_size, answers))})
                continue
            if message[0] == "start":
                key, settings, kinds, rows, prompts, vocab_size, budget, name, shape = message[1:]
                for setting, value in settings.items():
                    setattr(decoding, setting, value)
                if shared is not None:
                    shared.close()
                shared = shared_memory.SharedMemory(name=name)
                # the caller owns it: without this, Python before 3.13 would unlink it when this worker ends
                from multiprocessing import resource_tracker

                resource_tracker.unregister(shared._name, "shared_memory")
                masks = numpy.ndarray(shape, dtype=numpy.int32, buffer=shared.buf)
                processor = decoding.GuidedLogitsProcessor(tokenizers[key], kinds, vocab_size=vocab_size,
                                                           budget=budget)
                history = torch.from_numpy(numpy.ascontiguousarray(prompts))
            else:  # a step: the tokens chosen since the last one, a column each
                new = numpy.frombuffer(data, dtype=numpy.int64, offset=len(STEP)).reshape(len(rows), -1)
                history = torch.cat([history, torch.from_numpy(new.copy())], dim=1)
            counts = (processor.failed, processor.closed_early, processor.repeats_banned, len(processor._complete),
                      dict(processor.part_seconds), processor.compile_seconds)
            processor.fill(history)
            masks[0, rows] = processor._bitmask.numpy()
            for local, (steered, grammar, closes) in processor.steer.items():
                masks[1, rows[local]] = steered
                masks[2, rows[local]] = grammar
                masks[3, rows[local]] = closes
            reply = {
                "steer": [rows[local] for local in processor.steer],
                "complete": [rows[local] for local in processor._complete[counts[3]:]],
                "failed": processor.failed - counts[0], "closed_early": processor.closed_early - counts[1],
                "repeats_banned": processor.repeats_banned - counts[2],
                "parts": {part: seconds - counts[4][part] for part, seconds in processor.part_seconds.items()},
                "compile_seconds": processor.compile_seconds - counts[5],
            }
            if message[0] == "step" and not reply["steer"] and not reply["complete"]:
                connection.send_bytes(STEP + QUIET.pack(*(reply["parts"][part] for part in PARTS),
                                                        reply["compile_seconds"], *(reply[c] for c in COUNTS)))
            else:
                connection.send(reply)
        except BaseException:
            connection.send({"error": traceback.format_exc()[-3000:]})


if __name__ == "__main__":
    import multiprocessing.connection
    import sys

    _serve(multiprocessing.connection.Connection(int(sys.argv[1])))
