"""`CSM_MODEL=tiny-random`: a tiny randomly initialised CSM, Mimi codec and tokenizer, built offline.

It has the real model's structure (Llama backbone, depth decoder, 32-codebook-style RVQ codec with
the real 24 kHz / 80 ms frame geometry, the CSM chat template), only small. It speaks noise, but it
runs every line of the real code path in seconds on a CPU, which is what the tests need.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    CsmConfig,
    CsmForConditionalGeneration,
    CsmProcessor,
    EncodecFeatureExtractor,
    MimiConfig,
    PreTrainedTokenizerFast,
)

SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|AUDIO|>", "<|audio_eos|>"]

# The CSM chat template: each turn is `<bos>[speaker]text<eos>`, followed by its audio when it has one.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- bos_token + '[' + message['role'] + ']' -}}"
    "{%- for item in message['content'] if item['type'] == 'text' -%}{{- item['text'] -}}{%- endfor -%}"
    "{{- eos_token -}}"
    "{%- for item in message['content'] if item['type'] == 'audio' -%}{{- '<|AUDIO|><|audio_eos|>' -}}{%- endfor -%}"
    "{%- endfor -%}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer (256 byte tokens, no merges) with CSM's special tokens."""
    # sorted: alphabet() is a set, whose order (and so every token id) would change from process to process
    vocab = {char: i for i, char in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    return _csm_tokenizer(backend)


def _csm_tokenizer(backend: Tokenizer) -> PreTrainedTokenizerFast:
    """A tokenizer whose special tokens are CSM's, named as the chat template and processor expect."""
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        pad_token="<|AUDIO|>",
        additional_special_tokens=["<|AUDIO|>", "<|audio_eos|>"],
    )


CSM_AUDIO_SLOTS = {"<|reserved_special_token_0|>": "<|AUDIO|>", "<|reserved_special_token_1|>": "<|audio_eos|>"}
"""csm-1b's text tokenizer is Llama 3's, with its audio tokens in the first two reserved slots (128002, 128003)."""


def load_llama3_tokenizer(path: Path) -> PreTrainedTokenizerFast:
    """csm-1b's text tokenizer from a Llama 3 `tokenizer.json` (Llama 3's own file, which the model repository
    ships with two reserved tokens renamed): prompts then have the real model's lengths, about a quarter of
    the byte-level tokenizer's for English text. For benchmarks; nothing here downloads it."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for token in data["added_tokens"]:
        token["content"] = CSM_AUDIO_SLOTS.get(token["content"], token["content"])
    vocab = data["model"].get("vocab")
    if isinstance(vocab, dict):  # Llama 3's keeps its special tokens out of the BPE vocabulary; others may not
        data["model"]["vocab"] = {CSM_AUDIO_SLOTS.get(token, token): index for token, index in vocab.items()}
    found = {token["content"] for token in data["added_tokens"]}
    if not {*SPECIAL_TOKENS} <= found:
        raise ValueError(f"{path} is not a Llama 3 tokenizer.json: it lacks {sorted({*SPECIAL_TOKENS} - found)}")
    return _csm_tokenizer(Tokenizer.from_str(json.dumps(data)))


def build_config(tokenizer: PreTrainedTokenizerFast, *, num_codebooks: int = 8, undecodable_ids: int = 3) -> CsmConfig:
    """A small CsmConfig. `undecodable_ids` extra audio ids beyond the codec's codebook, like csm-1b's 2051 vs 2048."""
    codebook_size = 64
    audio_vocab = codebook_size + undecodable_ids
    ids = tokenizer.convert_tokens_to_ids
    codec = MimiConfig(
        hidden_size=32,
        num_filters=4,
        codebook_size=codebook_size,
        codebook_dim=16,
        vector_quantization_hidden_dimension=16,
        num_quantizers=num_codebooks,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=64,
        upsample_groups=32,
        sliding_window=16,
    )
    common = {
        "num_codebooks": num_codebooks,
        "vocab_size": audio_vocab,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0},
    }
    depth = {**common, "backbone_hidden_size": 64, "hidden_size": 48, "max_position_embeddings": num_codebooks + 1}
    return CsmConfig(
        **common,
        text_vocab_size=len(tokenizer),
        hidden_size=64,
        max_position_embeddings=2048,
        pad_token_id=ids("<|AUDIO|>"),
        bos_token_id=ids("<|begin_of_text|>"),
        audio_token_id=ids("<|AUDIO|>"),
        audio_eos_token_id=ids("<|audio_eos|>"),
        codebook_pad_token_id=audio_vocab - 1,
        codebook_eos_token_id=0,
        depth_decoder_config=depth,
        codec_config=codec.to_dict(),
    )


def _make_weights_matter(model: CsmForConditionalGeneration, seed: int) -> None:
    """Random init leaves Mimi degenerate (all codebooks zero, decoder transformer ~identity): fix both."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buffer in model.codec_model.named_buffers():
            if name.endswith("embed_sum"):
                buffer.copy_(torch.randn(buffer.shape, generator=generator))
            elif name.endswith("cluster_usage"):
                buffer.fill_(1.0)
        for module in model.codec_model.modules():
            if hasattr(module, "_embed"):
                module._embed = None  # reset the cached codebook
        for name, param in model.codec_model.named_parameters():
            if name.endswith("layer_scale.scale"):
                param.fill_(1.0)


def build_full_size_model(
    *, dtype: torch.dtype = torch.float32, device: str = "cpu", tokenizer: PreTrainedTokenizerFast | None = None
):
    """csm-1b's full configuration (and Mimi's) with random weights, for benchmarks: speed does not depend
    on the weights' values. Uses the tiny tokenizer unless given csm-1b's (`load_llama3_tokenizer`), with the
    real text-embedding size either way."""
    tokenizer = tokenizer or build_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    config = CsmConfig(
        pad_token_id=ids("<|AUDIO|>"),
        bos_token_id=ids("<|begin_of_text|>"),
        audio_token_id=ids("<|AUDIO|>"),
        audio_eos_token_id=ids("<|audio_eos|>"),
        codec_config=MimiConfig().to_dict(),
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = CsmForConditionalGeneration(config).to(dtype).eval()
    _make_weights_matter(model, 0)
    processor = CsmProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=24_000),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )
    return model, processor


def build_tiny_model(
    *, seed: int = 0, num_codebooks: int = 8, undecodable_ids: int = 3, tokenizer: PreTrainedTokenizerFast | None = None
):
    """Returns (model, processor), float32, eval mode, deterministic for a given seed (and tokenizer: the
    byte-level one unless given another)."""
    tokenizer = tokenizer or build_tokenizer()
    config = build_config(tokenizer, num_codebooks=num_codebooks, undecodable_ids=undecodable_ids)
    torch.manual_seed(seed)
    model = CsmForConditionalGeneration(config).eval()
    _make_weights_matter(model, seed)
    processor = CsmProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=24_000),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )
    return model, processor
