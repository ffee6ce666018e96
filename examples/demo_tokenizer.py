"""A real CLIP byte-level BPE tokenizer with a tiny vocabulary, written at session start.

A real suite loads its pipeline's own tokenizer; the example stand-ins need one without a download.
"""

import json

from transformers import CLIPTokenizer


def byte_alphabet():
    """CLIP's reversible byte→unicode table, so any prompt can be tokenized."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = [256 + i for i in range(256 - len(printable))]
    missing = [b for b in range(256) if b not in printable]
    table = dict(zip(printable, printable)) | dict(zip(missing, extra))
    return [chr(table[b]) for b in range(256)]


def small_clip_tokenizer(directory):
    merges = ["t h", "th e</w>", "r e", "o n", "i n", "a n"]
    chars = byte_alphabet()
    tokens = [
        "<|startoftext|>",
        "<|endoftext|>",
        *chars,
        *(c + "</w>" for c in chars),
        *(m.replace(" ", "") for m in merges),
    ]
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(dict.fromkeys(tokens))}))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer.from_pretrained(str(directory), model_max_length=77)
