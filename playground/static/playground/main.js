// The playground: give a voice, keep it, speak with it, stream text in. Everything goes through the public API.

import { ApiError, apiKey, call, setApiKey } from "./api.js";
import { loadVoices, saveVoice } from "./library.js";
import { LiveSession } from "./live.js";
import { $, clearErrors, promptForKey, setPreview, settings, state } from "./page.js";
import { Recorder } from "./recorder.js";
import { download, speak, stopSpeech } from "./speak.js";

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

$("save-voice").addEventListener("click", saveVoice);

// 3. Speak.

$("speak-button").addEventListener("click", speak);
$("stop").addEventListener("click", stopSpeech);
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
