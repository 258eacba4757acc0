// Records from the microphone with MediaRecorder, showing a level meter and the elapsed time.

function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${(seconds % 60).toFixed(1).padStart(4, "0")}`;
}

export class Recorder {
  // button toggles recording; level is the meter's bar; time an <output>; onDone(blob, seconds) gets the recording.
  constructor({ button, level, time, onDone, onError }) {
    Object.assign(this, { button, level, time, onDone, onError });
    this.label = button.textContent;
    this.recorder = null;
    button.addEventListener("click", () => (this.recorder ? this.stop() : this.start()));
  }

  async start() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      this.onError(`The microphone is not available: ${error.message}`);
      return;
    }
    const chunks = [];
    const started = performance.now();
    this.stream = stream;
    this.recorder = new MediaRecorder(stream);
    this.recorder.ondataavailable = (event) => event.data.size && chunks.push(event.data);
    this.recorder.onstop = () => {
      const seconds = (performance.now() - started) / 1000;
      this.onDone(new Blob(chunks, { type: this.recorder.mimeType || "audio/webm" }), seconds);
      this.recorder = null;
    };
    this.context = new AudioContext();
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 1024;
    this.context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
      this.level.style.width = `${Math.min(100, Math.round(rms * 300))}%`;
      this.time.value = clock((performance.now() - started) / 1000);
    };
    this.timer = setInterval(tick, 100);
    this.recorder.start(250);
    this.button.textContent = "Stop recording";
    this.button.classList.add("recording");
  }

  stop() {
    clearInterval(this.timer);
    this.level.style.width = "0";
    this.recorder.stop();
    this.stream.getTracks().forEach((track) => track.stop());
    this.context.close();
    this.button.textContent = this.label;
    this.button.classList.remove("recording");
  }
}
