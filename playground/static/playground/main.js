// The playground: give a voice, keep it, speak with it, stream text in. Everything goes through the public API.

import { ApiError, apiKey, base64Of, call, setApiKey } from "./api.js";
import { PcmPlayer } from "./player.js";
import { Recorder } from "./recorder.js";
import { LiveSession } from "./live.js";

const $ = (id) => document.getElementById(id);

const state = {
  sample: null, // {blob, name}: the voice sample, recorded or uploaded
  consent: null, // {blob, name, id}: the consent recording (id once uploaded)
  speech: null, // {controller, player}: the speech being played
  lastRequest: null, // the last spoken request's body, for downloads
};

// Errors go next to the control they are about: the field the server names, else the action's own place.
const ERROR_PLACES = {
  voice_sample: "sample-error",
  audio_sample: "sample-error",
  audio_file: "sample-error",
  voice_sample_text: "sample-error",
  transcript: "sample-error",
  context_text: "sample-error",
  recording: "consent-error",
  language: "consent-error",
  name: "save-error",
  consent: "consent-error",
};

function clearErrors() {
  document.querySelectorAll(".error").forEach((element) => (element.textContent = ""));
}

function showError(error, fallback) {
  if (error.name === "AbortError") return;
  const place = $(ERROR_PLACES[error.param] || fallback);
  place.textContent = error.message;
  if (error.status === 401) promptForKey();
}

function promptForKey() {
  $("key-prompt").hidden = false;
  $("settings").open = true;
  $("api-key").focus();
}

function setPreview(audio, blob) {
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(blob);
  audio.hidden = false;
}

function describe(blob, name, seconds) {
  const recorded = seconds ? ` · ${seconds.toFixed(1)} s recorded` : "";
  return `${name} · ${(blob.size / 1024).toFixed(0)} KiB${recorded}`;
}

// 1. Give a voice: record or upload.

function useSample(blob, name, seconds) {
  state.sample = { blob, name };
  setPreview($("sample-preview"), blob);
  $("sample-info").textContent = describe(blob, name, seconds);
  $("sample-error").textContent = "";
  live.reset();
}

function extensionOf(blob) {
  const subtype = (blob.type.split(";")[0].split("/")[1] || "webm").replace("x-", "");
  return { mpeg: "mp3" }[subtype] || subtype;
}

new Recorder({
  button: $("record"),
  level: $("record-level"),
  time: $("record-time"),
  onDone: (blob, seconds) => useSample(blob, `recording.${extensionOf(blob)}`, seconds),
  onError: (message) => ($("sample-error").textContent = message),
});

$("sample-file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) useSample(file, file.name);
});

// 2. Keep it: a consent recording and a name make a saved voice.

function useConsent(blob, name) {
  state.consent = { blob, name, id: null };
  setPreview($("consent-preview"), blob);
  $("consent-error").textContent = "";
}

new Recorder({
  button: $("record-consent"),
  level: $("consent-level"),
  time: $("consent-time"),
  onDone: (blob) => useConsent(blob, `consent.${extensionOf(blob)}`),
  onError: (message) => ($("consent-error").textContent = message),
});

$("consent-file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) useConsent(file, file.name);
});

async function saveVoice() {
  clearErrors();
  const name = $("voice-name").value.trim();
  if (!state.sample) return ($("sample-error").textContent = "Record or upload a voice sample first.");
  if (!state.consent) return ($("consent-error").textContent = "Record or upload the speaker's consent first.");
  if (!name) return ($("save-error").textContent = "Give the voice a name.");
  const button = $("save-voice");
  button.disabled = true;
  button.textContent = "Saving…";
  try {
    if (!state.consent.id) {
      const form = new FormData();
      form.append("name", `${name} (consent)`);
      form.append("language", navigator.language || "en-US");
      form.append("recording", state.consent.blob, state.consent.name);
      state.consent.id = (await (await call("/v1/audio/voice_consents", { method: "POST", form })).json()).id;
    }
    const form = new FormData();
    form.append("name", name);
    form.append("consent", state.consent.id);
    form.append("transcript", $("transcript").value.trim());
    form.append("audio_sample", state.sample.blob, state.sample.name);
    const voice = await (await call("/v1/audio/voices", { method: "POST", form })).json();
    await loadVoices();
    $("voice").value = voice.id;
    $("voice-name").value = "";
  } catch (error) {
    showError(error, "save-error");
  } finally {
    button.disabled = false;
    button.textContent = "Save voice";
  }
}

$("save-voice").addEventListener("click", saveVoice);

async function loadSamplePlayer(voice, audio) {
  try {
    const response = await call(`/v1/audio/voices/${encodeURIComponent(voice.id)}/sample`);
    audio.src = URL.createObjectURL(await response.blob());
  } catch (error) {
    audio.replaceWith(Object.assign(document.createElement("span"), { className: "error", textContent: error.message }));
  }
}

async function deleteVoice(voice) {
  $("voices-error").textContent = "";
  try {
    await call(`/v1/audio/voices/${encodeURIComponent(voice.id)}`, { method: "DELETE" });
    await loadVoices();
  } catch (error) {
    showError(error, "voices-error");
  }
}

function voiceItem(voice) {
  const item = document.createElement("li");
  const name = Object.assign(document.createElement("span"), { className: "name", textContent: voice.name });
  const audio = Object.assign(document.createElement("audio"), { controls: true, preload: "metadata" });
  audio.setAttribute("aria-label", `Sample of ${voice.name}`);
  const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "Delete" });
  remove.setAttribute("aria-label", `Delete ${voice.name}`);
  remove.addEventListener("click", () => deleteVoice(voice));
  item.append(name, audio, remove);
  loadSamplePlayer(voice, audio);
  return item;
}

async function loadVoices() {
  let voices;
  try {
    voices = (await (await call("/v1/audio/voices")).json()).data;
  } catch (error) {
    return showError(error, "voices-error");
  }
  const saved = voices.filter((voice) => voice.type !== "builtin");
  const list = $("voices");
  list.replaceChildren(...saved.map(voiceItem));
  if (!saved.length) list.innerHTML = '<li class="empty">No saved voices yet.</li>';
  const selected = $("voice").value;
  const option = (voice) => new Option(voice.name, voice.id);
  $("voice-saved").replaceChildren(...saved.map(option));
  $("voice-builtin").replaceChildren(...voices.filter((voice) => voice.type === "builtin").map(option));
  $("voice").value = [...$("voice").options].some((o) => o.value === selected) ? selected : "sample";
}

// 3. Speak: stream PCM from /v1/audio/speech into Web Audio while it is generated.

function settings() {
  return {
    temperature: Number($("temperature").value),
    topk: Number($("topk").value),
    max_audio_length_ms: Number($("max-length").value),
  };
}

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

async function speak() {
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

function stopSpeech() {
  if (!state.speech) return;
  state.speech.controller.abort();
  state.speech.player.stop();
  state.speech = null;
  $("stop").disabled = true;
  setPlayer("idle", "Stopped.");
}

$("speak-button").addEventListener("click", speak);
$("stop").addEventListener("click", stopSpeech);

async function download() {
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

$("download").addEventListener("click", download);
$("format").addEventListener("change", () => ($("download-format").textContent = $("format").value));

// 4. Stream text in.

const live = new LiveSession({
  text: $("live-text"),
  status: $("live-status"),
  player: $("live-player"),
  error: $("live-error"),
  source: async () => {
    const form = new FormData();
    const choice = $("voice").value;
    if (choice === "sample") {
      if (!state.sample) throw new ApiError("Record or upload a voice sample first (or choose a saved voice).");
      form.append("audio_file", state.sample.blob, state.sample.name);
      form.append("context_text", $("transcript").value.trim());
    } else {
      form.append("voice_id", choice);
    }
    for (const [name, value] of Object.entries(settings())) form.append(name, String(value));
    form.append("output_format", "pcm");
    return form;
  },
  onUnauthorized: promptForKey,
});

$("live-finish").addEventListener("click", () => live.finish());
$("live-stop").addEventListener("click", () => live.reset("Stopped."));
$("voice").addEventListener("change", () => live.reset());

// Settings: the API key, kept in this browser.

$("api-key").value = apiKey();
$("save-key").addEventListener("click", async () => {
  setApiKey($("api-key").value.trim());
  $("key-prompt").hidden = true;
  clearErrors();
  await checkKey();
  await loadVoices();
});

// Whether the server wants a key we lack: listing consents needs one when keys are required.
async function checkKey() {
  try {
    await call("/v1/audio/voice_consents?limit=1");
    $("key-prompt").hidden = true;
  } catch (error) {
    if (error.status === 401) promptForKey();
  }
}

checkKey();
loadVoices();
