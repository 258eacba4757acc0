"""Prompts for CSM: segments of `[speaker]text` with their audio, rendered by the model's chat template."""

from __future__ import annotations

from dataclasses import dataclass

import torch

DEFAULT_SPEAKER = 0  # the speaker of a request that names none


@dataclass(frozen=True)
class Segment:
    """One turn of context: what a speaker said and, for context turns, its Mimi codes [codebooks, frames]."""

    speaker: int
    text: str
    codes: torch.Tensor | None = None

    @property
    def frames(self) -> int:
        return 0 if self.codes is None else int(self.codes.shape[-1])


class PromptBuilder:
    """Turns segments into the backbone's input embeddings, exactly as CsmProcessor + the model would."""

    def __init__(self, model, processor) -> None:
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.audio_token = processor.audio_token
        self.audio_token_id = model.config.audio_token_id
        self.audio_eos_token_id = model.config.audio_eos_token_id
        self.num_codebooks = model.config.num_codebooks
        self.eos_code = model.config.codebook_eos_token_id
        self.embed_text = model.embed_text_tokens
        self.embed_audio = model.backbone_model.embed_tokens

    def token_ids(self, segments: list[Segment]) -> list[int]:
        conversation = [
            {
                "role": str(segment.speaker),
                "content": [{"type": "text", "text": segment.text}]
                + ([{"type": "audio", "audio": None}] if segment.codes is not None else []),
            }
            for segment in segments
        ]
        text = self.processor.apply_chat_template(conversation, tokenize=False)
        pieces = text.split(self.audio_token)
        with_audio = [segment for segment in segments if segment.codes is not None]
        expanded = pieces[0] + "".join(
            self.audio_token * segment.frames + piece for segment, piece in zip(with_audio, pieces[1:], strict=True)
        )
        return self.tokenizer(expanded, add_special_tokens=False)["input_ids"]

    def length(self, segments: list[Segment]) -> int:
        return len(self.token_ids(segments))

    def splits_at_segments(self) -> bool:
        """Whether the tokens of segments a + b are always those of a, then those of b: true of CSM's template,
        where every turn starts with <bos> and ends with special tokens, which the tokenizer never merges
        across. A prompt's voice context can then be a prefix computed once for every text that follows."""
        audio = torch.zeros(self.num_codebooks, 2, dtype=torch.long)
        probe = [Segment(0, "One turn.", audio), Segment(1, "Another turn."), Segment(0, "A third.")]
        return all(self.token_ids(probe) == self.token_ids(probe[:cut]) + self.token_ids(probe[cut:]) for cut in (1, 2))

    def embeddings(self, segments: list[Segment]) -> torch.Tensor:
        """-> [1, positions, hidden]: text embeddings, audio frames at <|AUDIO|>, an all-eos frame at <|audio_eos|>."""
        return self.embed(self.token_ids(segments), segments)

    @torch.no_grad()
    def embed(self, token_ids: list[int], segments: list[Segment]) -> torch.Tensor:
        """`embeddings` of segments whose tokens are already known."""
        device = self.embed_text.weight.device
        ids = torch.tensor(token_ids, device=device)
        embeds = self.embed_text(ids)
        codes = [segment.codes for segment in segments if segment.codes is not None]
        if codes:
            frames = torch.cat(codes, dim=-1).T.to(device)  # [frames, codebooks]
            embeds[ids == self.audio_token_id] = self.embed_audio(frames[None])[0].to(embeds.dtype)
            eos_frame = torch.full((1, 1, self.num_codebooks), self.eos_code, device=device)
            embeds[ids == self.audio_eos_token_id] = self.embed_audio(eos_frame)[0].to(embeds.dtype)
        return embeds[None]
