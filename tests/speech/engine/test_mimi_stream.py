"""MimiStreamDecoder against transformers' one-shot `MimiModel.decode`, on a small random Mimi."""

import pytest
import torch
from transformers import MimiConfig, MimiModel
from transformers.models.mimi.modeling_mimi import MimiEuclideanCodebook, MimiLayerScale

from speech.engine.mimi_stream import MimiStreamDecoder

N_FRAMES = 12
SLIDING_WINDOW = 5  # transformer steps (2 per frame): much shorter than 12 frames, and odd to straddle frames


def _small_mimi(attn_implementation: str) -> MimiModel:
    """Real Mimi frame geometry (24 kHz, 12.5 Hz, 1920 samples a frame), tiny widths, non-trivial weights."""
    config = MimiConfig(
        hidden_size=64,
        num_filters=8,
        codebook_size=64,
        codebook_dim=32,
        vector_quantization_hidden_dimension=32,
        num_quantizers=8,
        num_semantic_quantizers=1,
        upsample_groups=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=128,
        sliding_window=SLIDING_WINDOW,
        upsampling_ratios=[8, 6, 5, 4],
        initializer_range=0.15,  # transformer linears: the default 0.02 leaves attention a small contribution
    )
    torch.manual_seed(0)
    codec = MimiModel._from_config(config, attn_implementation=attn_implementation, dtype=torch.float32)
    codec.eval()
    with torch.no_grad():
        for module in codec.modules():
            if isinstance(module, MimiLayerScale):
                # random init makes the transformer nearly the identity (scale 0.01), hiding a broken cache
                module.scale.fill_(1.0)
            elif isinstance(module, MimiEuclideanCodebook):
                module.embed_sum.normal_()
                module._embed = None  # `embed` is cached from `embed_sum`
    return codec


@pytest.fixture(scope="module", params=["sdpa", "eager"])
def codec(request: pytest.FixtureRequest) -> MimiModel:
    return _small_mimi(request.param)


def _codes(batch: int, n_frames: int = N_FRAMES, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 64, (batch, 8, n_frames), generator=generator)


def _one_shot(codec: MimiModel, codes: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return codec.decode(codes).audio_values[:, 0]


def _stream(decoder: MimiStreamDecoder, codes: torch.Tensor, chunk: int) -> torch.Tensor:
    return torch.cat([decoder.decode(codes[..., i : i + chunk]) for i in range(0, codes.shape[-1], chunk)], dim=-1)


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def test_frame_samples_from_config(codec: MimiModel) -> None:
    decoder = MimiStreamDecoder(codec)
    assert decoder.frame_samples == 1920
    assert decoder.steps_per_frame == 2


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, N_FRAMES])
def test_streamed_chunks_match_one_shot(codec: MimiModel, chunk: int) -> None:
    codes = _codes(2)
    expected = _one_shot(codec, codes)
    streamed = _stream(MimiStreamDecoder(codec, batch_size=2), codes, chunk)
    assert streamed.shape == (2, N_FRAMES * 1920)
    assert _rel_err(streamed, expected) < 1e-4


def test_naive_per_frame_decode_differs(codec: MimiModel) -> None:
    codes = _codes(2)
    naive = torch.cat([_one_shot(codec, codes[..., i : i + 1]) for i in range(N_FRAMES)], dim=-1)
    assert _rel_err(naive, _one_shot(codec, codes)) > 0.1


def test_rows_are_independent(codec: MimiModel) -> None:
    codes = _codes(2)
    together = _stream(MimiStreamDecoder(codec, batch_size=2), codes, 1)
    for row in range(2):
        alone = _stream(MimiStreamDecoder(codec), codes[row : row + 1], 1)
        assert _rel_err(together[row], alone[0]) < 1e-5


def test_reset_restores_fresh_state(codec: MimiModel) -> None:
    codes = _codes(2)
    decoder = MimiStreamDecoder(codec, batch_size=2)
    first = _stream(decoder, codes, 3)
    decoder.reset()
    again = _stream(decoder, codes, 2)
    assert _rel_err(again, first) < 1e-5


@pytest.mark.parametrize("rows", [[1], [False, True], torch.tensor([1])])
def test_reset_rows_restarts_only_those_rows(codec: MimiModel, rows: object) -> None:
    before, after = _codes(2, seed=2), _codes(2, seed=3)
    decoder = MimiStreamDecoder(codec, batch_size=2)
    _stream(decoder, before, 1)
    decoder.reset_rows(rows)
    out = _stream(decoder, after, 1)

    # row 0 went on with its stream; row 1 restarted as if fresh
    continued = _one_shot(codec, torch.cat([before[:1], after[:1]], dim=-1))[0, N_FRAMES * 1920 :]
    fresh = _one_shot(codec, after[1:])[0]
    assert _rel_err(out[0], continued) < 1e-4
    assert _rel_err(out[1], fresh) < 1e-4
    # and the test can tell: without the reset, row 1 differs
    stale = _one_shot(codec, torch.cat([before[1:], after[1:]], dim=-1))[0, N_FRAMES * 1920 :]
    assert _rel_err(stale, fresh) > 1e-2


def test_rejects_wrong_batch(codec: MimiModel) -> None:
    with pytest.raises(ValueError):
        MimiStreamDecoder(codec, batch_size=2).decode(_codes(1))


def test_reset_rows_after_inference_mode(codec: MimiModel) -> None:
    codes = _codes(2)
    decoder = MimiStreamDecoder(codec, batch_size=2)
    with torch.inference_mode():
        first = _stream(decoder, codes, 2)
    decoder.reset_rows(torch.tensor([True, True]))  # state tensors made in inference mode
    assert _rel_err(_stream(decoder, codes, 2), first) < 1e-5


def test_decoding_some_rows_advances_only_those(codec: MimiModel) -> None:
    """The engine decodes, each frame, only the rows that produced one: every row's stream must still
    equal a one-shot decode of its own codes, whatever the others did meanwhile."""
    codes = _codes(3, seed=4)
    schedule = [[0, 2], [0, 1, 2], [1], [2, 0], [0, 1, 2], [1, 2], [0], [0, 1, 2], [2, 1, 0], [1], [1], [0, 2]]
    decoder = MimiStreamDecoder(codec, batch_size=3)
    decoded = [0, 0, 0]
    outputs: list[list[torch.Tensor]] = [[], [], []]
    for rows in schedule:
        frames = torch.stack([codes[row, :, decoded[row]] for row in rows])[..., None]
        for row, audio in zip(rows, decoder.decode(frames, rows=rows), strict=True):
            outputs[row].append(audio)
            decoded[row] += 1
    for row in range(3):
        streamed = torch.cat(outputs[row])
        assert decoded[row] >= 7  # long enough to run past the 5-step sliding window
        expected = _one_shot(codec, codes[row : row + 1, :, : decoded[row]])[0]
        assert _rel_err(streamed, expected) < 1e-4


def test_reset_row_restarts_within_subset_decoding(codec: MimiModel) -> None:
    before, after = _codes(2, seed=5), _codes(2, seed=6)
    decoder = MimiStreamDecoder(codec, batch_size=2)
    _stream(decoder, before, 1)
    decoder.reset_rows([1])
    out = torch.cat([decoder.decode(after[1:, :, i : i + 1], rows=[1]) for i in range(N_FRAMES)], dim=-1)
    assert _rel_err(out[0], _one_shot(codec, after[1:])[0]) < 1e-4


def test_rejects_codes_not_matching_rows(codec: MimiModel) -> None:
    with pytest.raises(ValueError):
        MimiStreamDecoder(codec, batch_size=3).decode(_codes(2), rows=[0])
