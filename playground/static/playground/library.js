// Keeping voices: a consent recording and a name make a saved voice; the list of saved voices, with players.

import { call } from "./api.js";
import { $, clearErrors, showError, state } from "./page.js";

export async function saveVoice() {
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

export async function loadVoices() {
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
