// Hands-free audio: the microphone as 20 ms PCM16 frames, and the agent's PCM16 played back to
// back. Loaded before handsfree.js in the same `js_on_load` body (webapp/ui/handsfree.py).

const HANDSFREE_FRAME_MS = 20;

// Runs on the audio thread: frames of PCM16 little-endian, posted to the page.
const HANDSFREE_WORKLET = `
class HandsfreeCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.size = options.processorOptions.frameSamples;
    this.frame = new DataView(new ArrayBuffer(this.size * 2));
    this.n = 0;
  }
  process(inputs) {
    const samples = inputs[0] && inputs[0][0];
    if (samples) {
      for (let i = 0; i < samples.length; i++) {
        const s = Math.max(-1, Math.min(1, samples[i]));
        this.frame.setInt16(this.n * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
        if (++this.n === this.size) {
          this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
          this.frame = new DataView(new ArrayBuffer(this.size * 2));
          this.n = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("handsfree-capture", HandsfreeCapture);
`;

function microphoneError(err) {
  const name = err && err.name;
  if (!window.isSecureContext) {
    return "The microphone needs a secure page: open it over https or on localhost.";
  }
  if (name === "NotAllowedError") {
    return "Microphone access was refused: allow it in the site settings, then start again.";
  }
  if (name === "NotFoundError") return "No microphone was found.";
  if (name === "NotReadableError") return "The microphone is in use by another application.";
  return "Could not open the microphone: " + (err && err.message ? err.message : err);
}

async function openMicrophone() {
  // Throws an Error whose message a person can act on.
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error(microphoneError(null));
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true, // keeps the agent's own voice from counting as a barge-in
        noiseSuppression: true,
        autoGainControl: true,
        channelCount: 1,
      },
    });
  } catch (err) {
    throw new Error(microphoneError(err));
  }
}

function scriptProcessorCapture(ctx, frameSamples, onFrame) {
  // Fallback where AudioWorklet is missing: ScriptProcessorNode on the main thread.
  const node = ctx.createScriptProcessor(1024, 1, 1);
  let frame = new DataView(new ArrayBuffer(frameSamples * 2));
  let n = 0;
  node.onaudioprocess = (event) => {
    const samples = event.inputBuffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      frame.setInt16(n * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      if (++n === frameSamples) {
        onFrame(frame.buffer);
        frame = new DataView(new ArrayBuffer(frameSamples * 2));
        n = 0;
      }
    }
  };
  return node;
}

async function startCapture(ctx, stream, onFrame) {
  // Calls onFrame(ArrayBuffer) every 20 ms of audio; returns the nodes to disconnect.
  const frameSamples = Math.round((ctx.sampleRate * HANDSFREE_FRAME_MS) / 1000);
  let capture;
  if (ctx.audioWorklet) {
    const blob = new Blob([HANDSFREE_WORKLET], { type: "application/javascript" });
    const url = URL.createObjectURL(blob);
    try {
      await ctx.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    capture = new AudioWorkletNode(ctx, "handsfree-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: 1,
      channelCountMode: "explicit",
      processorOptions: { frameSamples },
    });
    capture.port.onmessage = (event) => onFrame(event.data);
  } else {
    capture = scriptProcessorCapture(ctx, frameSamples, onFrame);
  }
  // Processing only runs when the node reaches the output; a muted gain keeps it silent.
  const source = ctx.createMediaStreamSource(stream);
  const mute = ctx.createGain();
  mute.gain.value = 0;
  source.connect(capture);
  capture.connect(mute);
  mute.connect(ctx.destination);
  return [source, capture, mute];
}

class PcmPlayer {
  // Plays PCM16 little-endian mono chunks back to back and knows how much of them has played.

  constructor(ctx, onDrained) {
    this.ctx = ctx;
    this.onDrained = onDrained; // called when the last scheduled chunk has finished playing
    this.rate = 22050;
    this.sources = new Set();
    this.nextTime = 0;
    this.chunks = []; // [start, duration] of the current answer's chunks, in context time
    this.carry = null; // an odd byte left over from the last message
    this.earlierMs = 0; // played of the earlier answers
  }

  get playing() {
    return this.sources.size > 0;
  }

  newAnswer(rate) {
    this.earlierMs += this.playedMs();
    this.chunks = [];
    this.carry = null;
    this.rate = rate || this.rate;
  }

  push(data) {
    // Schedules one binary message; returns how many bytes of audio it held.
    let bytes = new Uint8Array(data);
    if (this.carry !== null) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.carry;
      joined.set(bytes, 1);
      bytes = joined;
      this.carry = null;
    }
    if (bytes.length % 2) {
      this.carry = bytes[bytes.length - 1];
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    if (!bytes.length) return 0;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const count = bytes.length / 2;
    const buffer = this.ctx.createBuffer(1, count, this.rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < count; i++) channel[i] = view.getInt16(i * 2, true) / 32768;
    const node = this.ctx.createBufferSource();
    node.buffer = buffer;
    node.connect(this.ctx.destination);
    // Back to back; after an underrun, start again a little ahead of now.
    const at = Math.max(this.nextTime, this.ctx.currentTime + 0.02);
    node.start(at);
    this.nextTime = at + buffer.duration;
    this.chunks.push([at, buffer.duration]);
    this.sources.add(node);
    node.onended = () => {
      this.sources.delete(node);
      if (!this.sources.size) this.onDrained();
    };
    return bytes.length;
  }

  playedMs() {
    // Of the current answer, rounded up: one played to its end must not look a hair short.
    const now = this.ctx.currentTime;
    let total = 0;
    for (const [at, duration] of this.chunks) total += Math.min(Math.max(now - at, 0), duration);
    return Math.ceil(total * 1000);
  }

  totalPlayedMs() {
    return this.earlierMs + this.playedMs();
  }

  stop() {
    // Silence now: every scheduled chunk stops at once.
    for (const node of this.sources) {
      node.onended = null;
      try {
        node.stop();
      } catch (err) {
        // not started yet or already ended
      }
    }
    this.sources.clear();
    this.newAnswer();
    this.nextTime = 0;
  }
}
