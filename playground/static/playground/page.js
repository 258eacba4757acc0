// What the page's modules share: element lookup, the page's state, where errors go, the settings.

export const $ = (id) => document.getElementById(id);

export const state = {
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

export function clearErrors() {
  document.querySelectorAll(".error").forEach((element) => (element.textContent = ""));
}

export function showError(error, fallback) {
  if (error.name === "AbortError") return;
  const place = $(ERROR_PLACES[error.param] || fallback);
  place.textContent = error.message;
  if (error.status === 401) promptForKey();
}

export function promptForKey() {
  $("key-prompt").hidden = false;
  $("settings").open = true;
  $("api-key").focus();
}

export function setPreview(audio, blob) {
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(blob);
  audio.hidden = false;
}

export function settings() {
  return {
    temperature: Number($("temperature").value),
    topk: Number($("topk").value),
    max_audio_length_ms: Number($("max-length").value),
  };
}
