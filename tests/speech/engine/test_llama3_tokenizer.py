"""csm-1b's text tokenizer for benchmarks: a Llama 3 tokenizer.json whose two reserved slots become CSM's
audio tokens, so the bench's prompts can have the real model's lengths."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from speech.engine.prompt import PromptBuilder, Segment
from speech.engine.tiny import build_tiny_model, load_llama3_tokenizer

LLAMA3_SPECIAL = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
]
ENGLISH = ["The benchmark sentence is long enough to keep the model talking for a while."] * 20


def write_tokenizer(path: Path, special: list[str]) -> Path:
    """A byte-level BPE with merges learnt from English and Llama 3's special tokens, as its tokenizer.json."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(ENGLISH, trainer)
    path.write_text(tokenizer.to_str())
    return path


def test_the_reserved_slots_become_csms_audio_tokens_and_text_takes_fewer_positions(tmp_path: Path) -> None:
    path = write_tokenizer(tmp_path / "tokenizer.json", LLAMA3_SPECIAL)
    reserved = {token["content"]: token["id"] for token in json.loads(path.read_text())["added_tokens"]}
    tokenizer = load_llama3_tokenizer(path)
    assert tokenizer.convert_tokens_to_ids("<|AUDIO|>") == reserved["<|reserved_special_token_0|>"]
    assert tokenizer.convert_tokens_to_ids("<|audio_eos|>") == reserved["<|reserved_special_token_1|>"]

    model, processor = build_tiny_model(tokenizer=tokenizer)
    assert model.config.audio_token_id == reserved["<|reserved_special_token_0|>"]
    builder = PromptBuilder(model, processor)
    codes = torch.ones(model.config.num_codebooks, 5, dtype=torch.long)
    ids = builder.token_ids([Segment(0, ENGLISH[0], codes)])
    assert ids.count(model.config.audio_token_id) == 5 and ids.count(model.config.audio_eos_token_id) == 1
    assert ids[0] == reserved["<|begin_of_text|>"]

    byte_level = PromptBuilder(*build_tiny_model())
    assert builder.length([Segment(0, ENGLISH[0])]) < byte_level.length([Segment(0, ENGLISH[0])]) / 3
    assert builder.splits_at_segments()


def test_a_file_without_llama_3s_special_tokens_is_refused(tmp_path: Path) -> None:
    path = write_tokenizer(tmp_path / "tokenizer.json", ["<s>", "</s>"])
    with pytest.raises(ValueError, match="not a Llama 3 tokenizer.json"):
        load_llama3_tokenizer(path)


def test_the_bench_measures_with_it_and_says_how_long_its_prompts_are(tmp_path: Path) -> None:
    path = write_tokenizer(tmp_path / "tokenizer.json", LLAMA3_SPECIAL)
    bench = [sys.executable, "-m", "speech.engine.bench", "--device", "cpu", "--dtype", "float32"]
    runs = {
        name: subprocess.run(
            [*bench, "--rows", "burst", "--burst", "1,2", "--json", *extra], capture_output=True, text=True, timeout=300
        )
        for name, extra in (("csm", ["--tokenizer", str(path)]), ("byte-level", []))
    }
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    csm, byte_level = (json.loads(runs[name].stdout) for name in ("csm", "byte-level"))
    assert set(csm["burst_first_audio_ms"]) == {"1", "2"}
    assert csm["prompt_positions"]["text"] < byte_level["prompt_positions"]["text"] / 3
    assert csm["prompt_positions"]["context"] < byte_level["prompt_positions"]["context"]
