// Speaking: PCM streamed from /v1/audio/speech is played through Web Audio while it is generated; Stop aborts the
// request (the server stops generating when the client goes); Download asks for the same text in another format.

import { ApiError, base64Of, call } from "./api.js";
import { $, clearErrors, setPreview, settings, showError, state } from "./page.js";
import { PcmPlayer } from "./player.js";

async function speechBody() {
  const body = { model: "csm-1b", input: $("text").value.trim(), ...settings() };
  const choice = $("voice").value;
  if (choice !== "sample") return { ...body, voice: { id: choice } };
  if (!state.sample) throw new ApiError("Record or upload a voice sample first (or choose a saved voice).", {
    param: "voice_sample",
  });
  return {
    ...body,
    voice: "alloy",
    voice_sample: await base64Of(state.sample.blob),
    voice_sample_text: $("transcript").value.trim(),
  };
}

function setPlayer(playerState, status, stats = "") {
  const player = $("player");
  player.dataset.state = playerState;
  $("player-status").textContent = status;
  $("player-stats").textContent = stats;
}

function statsText(player, started, ended) {
  const ttfa = player.firstStart === null ? "–" : `${Math.round(player.firstStart - started)} ms`;
  const speed = ended ? ` · ${(player.seconds / ((ended - started) / 1000)).toFixed(1)}× real time` : "";
  return `Time to first audio: ${ttfa} · ${player.seconds.toFixed(2)} s of audio${speed}`;
}

export async function speak() {
  clearErrors();
  stopSpeech();
  const player = $("player");
  delete player.dataset.ttfaMs;
  delete player.dataset.audioMs;
  $("player-audio").hidden = true;
  $("download-row").hidden = true;
  let body;
  try {
    body = await speechBody();
  } catch (error) {
    setPlayer("error", "Nothing to speak with.");
    return showError(error, "speak-error");
  }
  if (!body.input) return ($("speak-error").textContent = "Type some text to speak.");
  const controller = new AbortController();
  const audio = new PcmPlayer();
  state.speech = { controller, player: audio };
  state.lastRequest = body;
  $("stop").disabled = false;
  setPlayer("playing", "Generating… waiting for the first audio.");
  const started = performance.now();
  try {
    const response = await call("/v1/audio/speech", {
      method: "POST",
      json: { ...body, response_format: "pcm", stream: true },
      signal: controller.signal,
    });
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const first = audio.firstStart === null;
      const delay = audio.push(value);
      if (first && audio.firstStart !== null) {
        setTimeout(() => {
          if (state.speech?.player !== audio) return;
          player.dataset.ttfaMs = String(Math.round(audio.firstStart - started));
          $("player-status").textContent = "Playing while it is generated…";
        }, delay);
      }
      $("player-stats").textContent = statsText(audio, started);
    }
    const ended = performance.now();
    $("player-stats").textContent = statsText(audio, started, ended);
    await audio.finished();
    if (state.speech?.player !== audio) return;
    state.speech = null;
    $("stop").disabled = true;
    player.dataset.audioMs = String(Math.round(audio.seconds * 1000));
    if (!audio.samples) return setPlayer("error", "The server sent no audio.");
    setPlayer("done", "Done.", statsText(audio, started, ended));
    setPreview($("player-audio"), audio.wav());
    $("download-row").hidden = false;
  } catch (error) {
    if (error.name === "AbortError") return;
    if (state.speech?.player === audio) stopSpeech();
    setPlayer("error", "Refused: the server's reason is shown above.");
    showError(error, "speak-error");
  }
}

export function stopSpeech() {
  if (!state.speech) return;
  state.speech.controller.abort();
  state.speech.player.stop();
  state.speech = null;
  $("stop").disabled = true;
  setPlayer("idle", "Stopped.");
}

export async function download() {
  $("download-error").textContent = "";
  const format = $("format").value;
  const button = $("download");
  button.disabled = true;
  button.textContent = "Generating…";
  try {
    const response = await call("/v1/audio/speech", {
      method: "POST",
      json: { ...state.lastRequest, response_format: format },
    });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = `speech.${format}`;
    link.click();
  } catch (error) {
    showError(error, "download-error");
  } finally {
    button.disabled = false;
    button.textContent = "Download";
  }
}
