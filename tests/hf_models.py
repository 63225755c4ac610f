"""Tiny random Hugging Face models saved to disk with a word-level tokenizer (nothing downloaded)."""
from __future__ import annotations

from pathlib import Path

import torch

SPECIAL = ["<pad>", "<s>", "</s>", "<unk>"]


def word_tokenizer(words: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIAL + sorted(set(words)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    from tokenizers import decoders

    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def save_tiny(path: Path, kind: str, words: list[str], seed: int = 0) -> Path:
    """A tiny random `gpt2`, `t5` or `bart` with a word-level tokenizer over `words`, saved to `path`."""
    import transformers as tr

    tokenizer = word_tokenizer(words)
    v = len(tokenizer)
    torch.manual_seed(seed)
    if kind == "gpt2":
        model = tr.GPT2LMHeadModel(tr.GPT2Config(vocab_size=v, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                                                 bos_token_id=1, eos_token_id=2, pad_token_id=0))
    elif kind == "t5":
        model = tr.T5ForConditionalGeneration(tr.T5Config(vocab_size=v, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                                          num_heads=4, decoder_start_token_id=0, pad_token_id=0,
                                                          eos_token_id=2))
    elif kind == "bart":
        model = tr.BartForConditionalGeneration(tr.BartConfig(
            vocab_size=v, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
            pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=2))
    else:
        raise ValueError(kind)
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path
