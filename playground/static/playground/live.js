// "Stream text in": a streaming session whose words are sent over its WebSocket (?mode=stream) as they are typed;
// the PCM that comes back is played as it arrives.

import { call, openSocket } from "./api.js";
import { PcmPlayer } from "./player.js";

const CLOSE_REASONS = { 4401: "The API key was refused.", 4403: "This page's origin is not allowed.", 4404: "The session expired." };

export class LiveSession {
  // text: the textarea; status, player, error: where to report; source(): the session's form (voice, settings).
  constructor({ text, status, player, error, source, onUnauthorized }) {
    Object.assign(this, { text, status, playerRegion: player, error, source, onUnauthorized });
    this.socket = null;
    this.opening = null;
    this.sent = 0; // characters of the text already sent
    this.player = null;
    this.sentAt = null; // when the text that ended the last sentence was sent
    text.addEventListener("input", () => this.send(false));
  }

  report(stateName, message) {
    this.playerRegion.dataset.state = stateName;
    this.status.textContent = message;
  }

  // Sends the words typed since the last send (up to the last space), or everything when final.
  async send(final) {
    const value = this.text.value;
    if (value.length < this.sent) this.sent = value.length; // text was deleted: go on from here
    const end = final ? value.length : Math.max(value.lastIndexOf(" "), value.lastIndexOf("\n")) + 1;
    if (end <= this.sent && !final) return;
    const chunk = value.slice(this.sent, end);
    this.sent = Math.max(this.sent, end);
    let socket;
    try {
      socket = await this.connect();
    } catch (error) {
      this.sent = 0;
      this.opening = null;
      this.error.textContent = error.message;
      if (error.status === 401) this.onUnauthorized();
      return;
    }
    if (/[.!?]/.test(chunk) || final) this.sentAt = performance.now();
    socket.send(JSON.stringify({ text_chunk: chunk, is_final: final }));
  }

  finish() {
    return this.send(true);
  }

  connect() {
    if (!this.opening) this.opening = this.open();
    return this.opening;
  }

  async open() {
    this.error.textContent = "";
    this.report("idle", "Creating a streaming session…");
    const form = await this.source();
    const session = await (await call("/v1/streaming-session", { method: "POST", form })).json();
    const socket = openSocket(`/v1/ws/stream-text/${session.session_id}?mode=stream`);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => this.received(event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      if (CLOSE_REASONS[event.code] && !this.error.textContent) this.error.textContent = CLOSE_REASONS[event.code];
      if (event.code === 4401) this.onUnauthorized();
      this.forget();
      this.report("idle", "Disconnected: type again to start a new session.");
    };
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("The WebSocket could not be opened."));
    });
    this.socket = socket;
    this.report("idle", "Connected: type; each sentence is spoken when it ends.");
    return socket;
  }

  received(data) {
    if (typeof data !== "string") {
      if (!this.player) this.player = new PcmPlayer();
      const awaited = this.sentAt !== null; // the first audio since a sentence was ended
      const delay = this.player.push(new Uint8Array(data));
      if (awaited) {
        const latency = Math.round(performance.now() + delay - this.sentAt);
        this.sentAt = null;
        this.playerRegion.dataset.ttfaMs = String(latency);
        this.report("playing", `Speaking… ${latency} ms from the end of the sentence to its first audio.`);
      }
      return;
    }
    const message = JSON.parse(data);
    if (message.type === "error") this.error.textContent = message.error.message;
    if (message.type === "audio.done") {
      const latency = this.playerRegion.dataset.ttfaMs;
      const measured = latency ? ` Last sentence: ${latency} ms from its end to its first audio.` : "";
      this.report("done", message.cancelled ? "Cancelled." : `Done: everything typed was spoken.${measured}`);
    }
  }

  forget() {
    this.socket = null;
    this.opening = null;
    this.sent = 0;
    this.player?.stop();
    this.player = null;
  }

  // Drops the session (when the voice changes, or on Stop); the next word typed opens a new one.
  reset(message = "Not connected.") {
    const socket = this.socket;
    this.forget();
    if (socket) {
      socket.send(JSON.stringify({ type: "cancel" }));
      socket.close();
    }
    this.report("idle", message);
  }
}
