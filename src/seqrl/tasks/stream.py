"""StreamingTextData: training examples read from disk as training goes, for corpora larger
than memory.

The file (or saved dataset) is read front to back once per epoch through a shuffle buffer of
`buffer` examples (a reservoir seeded by (seed, epoch)), and each batch is tokenized when it is
drawn. Only the buffer and the validation set are held in memory. `train_batch(step, size)`
is still a pure function of (seed, step): training asks for consecutive steps, which continue
the open stream; any other step (a resumed run) replays the stream from the start up to that
step's position, which costs one read of the data before it, not its tokenization.
"""
from __future__ import annotations

from typing import Callable, Iterator, Optional, Sequence


from seqrl import seeds
from seqrl.data.readers import DataError, TextExample
from seqrl.tasks.base import Example


class StreamingTextData:
    def __init__(self, open_examples: Callable[[], Iterator[TextExample]],
                 encode: Callable[[Sequence[TextExample]], list[Example]],
                 validation: tuple[Example, ...], seed: int, buffer: int = 10_000) -> None:
        """open_examples() starts a fresh pass over the training data; encode() tokenizes a batch."""
        if buffer < 1:
            raise ValueError(f"shuffle buffer must be >= 1, got {buffer}")
        self.open_examples, self.encode = open_examples, encode
        self.validation, self.seed, self.buffer = validation, seed, buffer
        self._stream: Optional[Iterator[TextExample]] = None
        self._next_step: Optional[int] = None

    def _examples(self) -> Iterator[TextExample]:
        """Every epoch: a buffered shuffle of one pass over the data."""
        epoch = 0
        while True:
            rng = seeds.data_rng(self.seed, seeds.STREAM, epoch)
            buf: list[TextExample] = []
            for ex in self.open_examples():
                if len(buf) < self.buffer:
                    buf.append(ex)
                    continue
                i = int(rng.integers(len(buf)))
                yield buf[i]
                buf[i] = ex
            if not buf:
                raise DataError("the training data yielded no examples")
            for i in rng.permutation(len(buf)):
                yield buf[i]
            epoch += 1

    def train_batch(self, step: int, size: int) -> list[Example]:
        if self._stream is None or step != self._next_step:
            self._stream = self._examples()
            for _ in range(step * size):  # replay up to this step (a resumed run)
                next(self._stream)
        texts = [next(self._stream) for _ in range(size)]
        self._next_step = step + 1
        return self.encode(texts)
