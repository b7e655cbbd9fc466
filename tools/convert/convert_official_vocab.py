#!/usr/bin/env python3
"""Converts an official DivE vocabulary pickle (vocab/*_vocab.pkl) into our vocab.txt.

The pickle holds a `Vocabulary` object of the official vocab.py (pickled from __main__, so the
module is not importable): attributes idx, word2idx {word: id} and idx2word {id: word}. We unpickle
it with a stub class (only that class is allowed; no other globals are resolved), check that the
ids are 0..n-1 and consistent, and write one token per line, line number = id. `<mask>` is appended
last, as the official train.py does at run time (vocab.add_word('<mask>')).

Usage: python3 tools/convert/convert_official_vocab.py vocab/coco_butd_vocab.pkl vocab.txt
"""
import os
import pickle
import sys

SPECIALS = ["<pad>", "<start>", "<end>", "<unk>"]


class Vocabulary:  # stub for the official vocab.Vocabulary (state is restored by __dict__)
    pass


class StubUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if name == "Vocabulary" and module in ("__main__", "vocab"):
            return Vocabulary
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def fail(path, msg):
    sys.exit(f"error: {path}: {msg}")


def convert(src, dst):
    with open(src, "rb") as f:
        vocab = StubUnpickler(f).load()
    if not isinstance(vocab, Vocabulary) or not hasattr(vocab, "word2idx"):
        fail(src, "not a pickled Vocabulary (no word2idx)")
    w2i = vocab.word2idx
    i2w = {int(k): v for k, v in getattr(vocab, "idx2word", {}).items()}  # JSON-made vocabs have str keys
    n = len(w2i)
    words = [None] * n
    for w, i in w2i.items():
        if not isinstance(i, int) or not 0 <= i < n or words[i] is not None:
            fail(src, f"word2idx['{w}'] = {i!r}: ids must be 0..{n - 1}, each once")
        words[i] = w
    if i2w and (len(i2w) != n or any(i2w.get(i) != w for i, w in enumerate(words))):
        fail(src, "idx2word disagrees with word2idx")
    if getattr(vocab, "idx", n) != n:
        fail(src, f"idx = {vocab.idx} but word2idx has {n} words")
    if words[:4] != SPECIALS:
        fail(src, f"ids 0..3 are {words[:4]}, expected {SPECIALS}")
    for i, w in enumerate(words):
        if not w or any(c.isspace() for c in w):
            fail(src, f"id {i}: token {w!r} is empty or contains whitespace")
    if "<mask>" in w2i:
        if words[-1] != "<mask>":
            fail(src, "'<mask>' present but not last")
    else:
        words.append("<mask>")
    tmp = f"{dst}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(w + "\n" for w in words))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"{src}: {n} words + <mask> = {len(words)} tokens -> {dst}")
    return len(words)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(sys.argv[1], sys.argv[2])
