// The page's spoken answer: each piece of a press-to-talk (or typed) answer plays as soon as it
// arrives, back to back, with the hands-free mode's PcmPlayer (handsfree_audio.js, loaded
// first in the same `js_on_load` body, webapp/ui/player.py).
//
// The server writes the pieces into a hidden textbox ("#speech-feed"), whose value grows while
// the answer is spoken: "<turn id>;<rate>;<stopped at>;<base64 PCM16>;<base64 PCM16>;...".
// Gradio sends the growth as a diff and may fold two updates into one `change`, so the player
// keeps count of the pieces it has played for each turn and plays only the new ones.
//
// "<stopped at>" is the browser's clock when the person stopped speaking (page_clock.js), or
// empty. When an answer's first piece is scheduled, the player knows when it will be heard and
// reports how long after the stop that is: `trigger("submit", {turn_id, heard_ms})`, which
// the server stores as the turn's first audio and shows on the timings line.

function setupPagePlayer(root, trigger) {
  const status = root.querySelector("#spoken-status");
  const stopButton = root.querySelector("#spoken-stop");
  const AudioCtx = window.AudioContext || window.webkitAudioContext;
  let ctx = null;
  let player = null;
  let turn = "";
  let played = 0; // pieces of `turn` handed to the player
  let reported = ""; // the last turn whose first audio was reported
  let rate = 22050;

  function show(text, speaking) {
    status.textContent = text;
    root.dataset.state = speaking ? "speaking" : "idle";
    stopButton.disabled = !speaking;
  }

  function context() {
    // Made (or resumed) inside a click or key press when possible, so the browser lets it
    // play: the Record, Stop, Upload and Send controls all count.
    if (!ctx) {
      ctx = new AudioCtx();
      player = new PcmPlayer(ctx, () => show("Spoken.", false));
    }
    if (ctx.state === "suspended") ctx.resume();
    return ctx;
  }
  document.addEventListener("pointerdown", context, { capture: true });
  document.addEventListener("keydown", context, { capture: true });

  function base64Bytes(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  stopButton.addEventListener("click", () => {
    if (player) player.stop();
    show("Stopped.", false);
  });

  function heardAt(contextTime) {
    // The performance.now() at which audio scheduled at `contextTime` reaches the speakers.
    const stamp = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    if (stamp && stamp.performanceTime > 0) {
      return stamp.performanceTime + (contextTime - stamp.contextTime) * 1000;
    }
    const latency = ctx.outputLatency || ctx.baseLatency || 0;
    return performance.now() + (contextTime - ctx.currentTime + latency) * 1000;
  }

  function report(turnId, stoppedAt) {
    // The first piece of `turnId` (the current turn) is scheduled: when is it heard, after
    // the stop? Once per turn: pieces after a press of "Stop speaking" are not its first.
    const first = player.chunks[0];
    if (!first || !stoppedAt || reported === turn) return;
    reported = turn;
    const heardMs = heardAt(first[0]) - stoppedAt;
    window.voiceAgentHeard = { turn_id: turnId, heard_ms: heardMs }; // for tests
    trigger("submit", { turn_id: turnId, heard_ms: heardMs });
  }

  window.voiceAgentSpeak = (feed) => {
    if (!feed) return;
    const [key, sampleRate, stoppedAt, ...pieces] = feed.split(";");
    context();
    if (key !== turn) {
      player.stop(); // a new answer: whatever is left of the last one is not wanted
      turn = key;
      played = 0;
      rate = Number(sampleRate) || rate;
      player.newAnswer(rate);
    }
    const before = player.chunks.length;
    for (; played < pieces.length; played++) {
      if (pieces[played]) player.push(base64Bytes(pieces[played]));
    }
    if (!before && player.chunks.length) report(Number(turn), Number(stoppedAt));
    if (player.playing) show("Speaking…", true);
  };

  // For tests and the curious: how much of the current answer has played, in milliseconds.
  window.voiceAgentSpoken = () => (player ? player.totalPlayedMs() : 0);
  show("The answer is spoken here as it is written.", false);
}
