// The page's spoken answer: each piece of a press-to-talk (or typed) answer plays as soon as it
// arrives, back to back, with the hands-free mode's PcmPlayer (handsfree_audio.js, loaded
// first in the same `js_on_load` body, webapp/ui/player.py).
//
// The server writes the pieces into a hidden textbox ("#speech-feed"), whose value grows while
// the answer is spoken: "<turn key>;<base64 PCM16>;<base64 PCM16>;...". Gradio sends the
// growth as a diff and may fold two updates into one `change`, so the player keeps count of the
// pieces it has played for each turn key and plays only the new ones.

function setupPagePlayer(root) {
  const status = root.querySelector("#spoken-status");
  const stopButton = root.querySelector("#spoken-stop");
  const AudioCtx = window.AudioContext || window.webkitAudioContext;
  let ctx = null;
  let player = null;
  let turn = "";
  let played = 0; // pieces of `turn` handed to the player
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

  window.voiceAgentSpeak = (feed) => {
    if (!feed) return;
    const [key, sampleRate, ...pieces] = feed.split(";");
    context();
    if (key !== turn) {
      player.stop(); // a new answer: whatever is left of the last one is not wanted
      turn = key;
      played = 0;
      rate = Number(sampleRate) || rate;
      player.newAnswer(rate);
    }
    for (; played < pieces.length; played++) {
      if (pieces[played]) player.push(base64Bytes(pieces[played]));
    }
    if (player.playing) show("Speaking…", true);
  };

  // For tests and the curious: how much of the current answer has played, in milliseconds.
  window.voiceAgentSpoken = () => (player ? player.totalPlayedMs() : 0);
  show("The answer is spoken here as it is written.", false);
}
