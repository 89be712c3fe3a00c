// Injected by bench/browser.py into every page before the page's own scripts run (Playwright's
// add_init_script). It gives the page a microphone the bench speaks into with exact timing, and
// records what the page plays, as it is heard, all in page time (performance.now(), ms):
//
// - microphone: getUserMedia({audio}) returns a new MediaStreamAudioDestinationNode's stream in
//   a bench-owned AudioContext; window.__bench.say() schedules PCM16 into it back to back and
//   says when each part will sound. Both the hands-free client (AudioWorklet capture) and
//   Gradio's recorder (MediaRecorder) take that stream like any microphone.
// - plays: every AudioBufferSourceNode.start() of the page's contexts: when it really starts
//   (call time + how far ahead `when` is), how long it lasts, and when a stop() cut it.
// - sounds: what reaches each context's destination, through a meter worklet tapped onto every
//   node connected to it: runs of sound (peak above 1 % of full scale), joined over silences
//   under 50 ms. This sees any Web Audio player, whatever schedules the samples.
// - clicks and keys (capture phase), and the chat's last bot message as it first changes.
(() => {
  "use strict";
  const SOUND_LEVEL = 0.01;
  const JOIN_S = 0.05;
  const log = { plays: [], sounds: [], clicks: [], chat: [], tokens: [], contexts: 0 };
  const BaseContext = window.AudioContext || window.webkitAudioContext;
  const realConnect = AudioNode.prototype.connect;
  const realStart = AudioBufferSourceNode.prototype.start;
  const realStop = AudioBufferSourceNode.prototype.stop;

  // Page time of a context time, from a reading of both clocks taken now.
  const pageTime = (ctx, t) => performance.now() + (t - ctx.currentTime) * 1000;

  // The microphone ------------------------------------------------------------------------
  let mic = null;
  function microphone() {
    if (!mic) {
      const ctx = new BaseContext();
      ctx.__benchMic = true;
      const bus = ctx.createGain();
      mic = { ctx, bus, next: 0 };
    }
    return mic;
  }
  const realGetUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    if (!constraints || !constraints.audio || constraints.video) return realGetUserMedia(constraints);
    const m = microphone();
    await m.ctx.resume();
    // A destination per caller: a caller that stops its tracks leaves the others' alone.
    const dest = m.ctx.createMediaStreamDestination();
    dest.channelCount = 1;
    realConnect.call(m.bus, dest);
    return dest.stream;
  };

  function pcm16Buffer(ctx, base64, rate) {
    const raw = atob(base64);
    const count = raw.length >> 1;
    const buffer = ctx.createBuffer(1, Math.max(1, count), rate);
    const out = buffer.getChannelData(0);
    for (let i = 0; i < count; i++) {
      const v = raw.charCodeAt(2 * i) | (raw.charCodeAt(2 * i + 1) << 8);
      out[i] = (v >= 0x8000 ? v - 0x10000 : v) / 32768;
    }
    return buffer;
  }

  // Schedules `base64` (PCM16 mono at `rate`) into the microphone after what is already queued,
  // `leadMs` from now at the earliest; returns the page times of its start and end.
  function say(base64, rate, leadMs) {
    const m = microphone();
    const buffer = pcm16Buffer(m.ctx, base64, rate);
    const node = m.ctx.createBufferSource();
    node.buffer = buffer;
    realConnect.call(node, m.bus);
    const at = Math.max(m.next, m.ctx.currentTime + (leadMs || 20) / 1000);
    const start = pageTime(m.ctx, at);
    realStart.call(node, at);
    m.next = at + buffer.duration;
    return { start, end: start + buffer.duration * 1000 };
  }

  // What the page plays ---------------------------------------------------------------------
  // Each record has its page times (start, end) and its context's own times (t0, t1, exact
  // between records of one context, for gaps), and the context's number.
  AudioBufferSourceNode.prototype.start = function (when) {
    const ctx = this.context;
    if (!ctx.__benchMic && !(ctx instanceof OfflineAudioContext)) {
      const duration = this.buffer ? this.buffer.duration / (this.playbackRate.value || 1) : 0;
      const t0 = Math.max(when || 0, ctx.currentTime);
      const start = pageTime(ctx, t0);
      const play = { start, end: start + duration * 1000, t0, t1: t0 + duration };
      this.__benchPlay = Object.assign(play, { context: ctx.__benchId || 0 });
      log.plays.push(play);
    }
    return realStart.apply(this, arguments);
  };
  AudioBufferSourceNode.prototype.stop = function (when) {
    const play = this.__benchPlay;
    if (play) {
      const t = Math.max(when || 0, this.context.currentTime);
      if (t < play.t1) {
        play.t1 = t;
        play.end = play.start + (t - play.t0) * 1000;
      }
    }
    return realStop.apply(this, arguments);
  };

  // What reaches the loudspeaker --------------------------------------------------------------
  const METER = `
  class BenchMeter extends AudioWorkletProcessor {
    constructor() { super(); this.batch = []; }
    process(inputs) {
      let peak = 0;
      for (const input of inputs) for (const channel of input) {
        for (let i = 0; i < channel.length; i++) { const v = Math.abs(channel[i]); if (v > peak) peak = v; }
      }
      this.batch.push(currentTime, peak, 128 / sampleRate);
      if (this.batch.length >= 96) { this.port.postMessage(this.batch); this.batch = []; }
      return true;
    }
  }
  registerProcessor("bench-meter", BenchMeter);`;
  const meterUrl = URL.createObjectURL(new Blob([METER], { type: "application/javascript" }));

  function onLevels(ctx, batch) {
    // Context times become page times with one reading of both clocks for the whole batch.
    const offset = performance.now() - ctx.currentTime * 1000;
    for (let i = 0; i < batch.length; i += 3) {
      if (batch[i + 1] < SOUND_LEVEL) continue;
      const t0 = batch[i];
      const t1 = t0 + batch[i + 2];
      const last = ctx.__benchRun;
      if (last && t0 - last.t1 <= JOIN_S) {
        last.t1 = t1;
        last.end = last.start + (t1 - last.t0) * 1000;
      } else {
        const start = offset + t0 * 1000;
        ctx.__benchRun = { start, end: start + (t1 - t0) * 1000, t0, t1, context: ctx.__benchId };
        log.sounds.push(ctx.__benchRun);
      }
    }
  }

  function addMeter(ctx) {
    ctx.__benchId = ++log.contexts;
    ctx.__benchTapped = [];
    ctx.audioWorklet.addModule(meterUrl).then(() => {
      const meter = new AudioWorkletNode(ctx, "bench-meter", { numberOfOutputs: 1 });
      const sink = ctx.createGain();
      sink.gain.value = 0; // pulled by the destination, heard by nobody
      realConnect.call(meter, sink);
      realConnect.call(sink, ctx.destination);
      meter.port.onmessage = (event) => onLevels(ctx, event.data);
      ctx.__benchMeter = meter;
      for (const node of ctx.__benchTapped) realConnect.call(node, meter);
      ctx.__benchTapped = null;
    }).catch(() => {
      ctx.__benchTapped = null; // a context closed at once (a decoder's) is never heard
    });
  }

  class MeteredContext extends BaseContext {
    constructor(...args) {
      super(...args);
      addMeter(this);
    }
  }
  window.AudioContext = MeteredContext;
  if (window.webkitAudioContext) window.webkitAudioContext = MeteredContext;

  AudioNode.prototype.connect = function (target) {
    const result = realConnect.apply(this, arguments);
    const ctx = this.context;
    if (target instanceof AudioDestinationNode && ctx.__benchId && !ctx.__benchMic) {
      if (ctx.__benchMeter) realConnect.call(this, ctx.__benchMeter);
      else if (ctx.__benchTapped) ctx.__benchTapped.push(this);
    }
    return result;
  };

  // The answer's tokens as a live conversation's socket delivers them (page ms) -------------
  const RealSocket = window.WebSocket;
  const ANSWER_EVENT = /"type":\s*"answer"/;
  window.WebSocket = class extends RealSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (typeof event.data === "string" && ANSWER_EVENT.test(event.data)) {
          log.tokens.push(performance.now());
        }
      });
    }
  };

  // Clicks, keys and the chat -----------------------------------------------------------------
  const label = (el) => (el && el.closest && el.closest("button") ? el.closest("button") : el);
  for (const type of ["click", "keydown"]) {
    document.addEventListener(
      type,
      (event) => {
        const el = label(event.target);
        const text = el && (el.innerText || el.getAttribute("aria-label") || el.id || "");
        log.clicks.push({ t: performance.now(), type, key: event.key || "", text: String(text).trim() });
      },
      true,
    );
  }

  const lastBot = () => {
    const rows = document.querySelectorAll("#chat .message-row.bot-row");
    return rows.length ? rows[rows.length - 1].innerText.trim() : "";
  };
  let chatPoll = null;
  // From now on, notes the page time at which the chat's last bot message first shows new text.
  function watchChat() {
    clearInterval(chatPoll);
    const before = lastBot();
    chatPoll = setInterval(() => {
      const value = lastBot();
      if (value && value !== before) {
        log.chat.push({ t: performance.now(), text: value });
        clearInterval(chatPoll);
      }
    }, 5);
  }

  window.__bench = {
    say,
    watchChat,
    now: () => performance.now(),
    // When the last buffer scheduled (or sound heard) so far ends, and when the first that
    // began at or after `t` started (0 when none has yet).
    lastEnd: () => log.plays.concat(log.sounds).reduce((end, r) => Math.max(end, r.end), 0),
    firstAudioAfter: (t) => {
      const now = performance.now();
      const starts = log.plays.concat(log.sounds).map((r) => r.start);
      const after = starts.filter((s) => s >= t && s <= now);
      return after.length ? Math.min(...after) : 0;
    },
    // Everything recorded so far, and the page's time.
    snapshot: () => ({ now: performance.now(), ...log }),
  };
})();
