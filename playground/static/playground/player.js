// Plays raw PCM (s16le, 24 kHz, mono) as it arrives, through Web Audio: each chunk is scheduled right after
// the previous one. Keeps what it played, to replay it as a WAV file.

export const SAMPLE_RATE = 24000;

export class PcmPlayer {
  constructor() {
    this.context = new AudioContext();
    this.next = 0;
    this.sources = new Set();
    this.chunks = [];
    this.samples = 0;
    this.carry = null; // an odd byte left over from the previous chunk
    this.firstStart = null; // performance.now() when the first audio starts playing
  }

  // Queues a chunk of bytes; returns the delay in ms before it starts playing.
  push(bytes) {
    let data = bytes;
    if (this.carry) {
      data = new Uint8Array(bytes.length + 1);
      data.set(this.carry);
      data.set(bytes, 1);
      this.carry = null;
    }
    if (data.length % 2) {
      this.carry = data.slice(-1);
      data = data.subarray(0, data.length - 1);
    }
    if (!data.length) return 0;
    const pcm = new Int16Array(data.slice().buffer);
    this.chunks.push(pcm);
    this.samples += pcm.length;
    const buffer = this.context.createBuffer(1, pcm.length, SAMPLE_RATE);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) channel[i] = pcm[i] / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const now = this.context.currentTime;
    const start = Math.max(this.next, now + 0.03);
    source.start(start);
    this.next = start + buffer.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
    const delay = (start - now) * 1000;
    if (this.firstStart === null) this.firstStart = performance.now() + delay;
    return delay;
  }

  get seconds() {
    return this.samples / SAMPLE_RATE;
  }

  // Resolves when everything queued has been played.
  async finished() {
    const left = Math.max(0, this.next - this.context.currentTime);
    await new Promise((resolve) => setTimeout(resolve, left * 1000));
  }

  stop() {
    for (const source of this.sources) source.stop();
    this.sources.clear();
    this.context.close();
  }

  // What was played, as a 16-bit WAV file.
  wav() {
    const header = new DataView(new ArrayBuffer(44));
    const bytes = this.samples * 2;
    const text = (offset, value) => [...value].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
    text(0, "RIFF");
    header.setUint32(4, 36 + bytes, true);
    text(8, "WAVEfmt ");
    header.setUint32(16, 16, true);
    header.setUint16(20, 1, true);
    header.setUint16(22, 1, true);
    header.setUint32(24, SAMPLE_RATE, true);
    header.setUint32(28, SAMPLE_RATE * 2, true);
    header.setUint16(32, 2, true);
    header.setUint16(34, 16, true);
    text(36, "data");
    header.setUint32(40, bytes, true);
    return new Blob([header, ...this.chunks], { type: "audio/wav" });
  }
}
