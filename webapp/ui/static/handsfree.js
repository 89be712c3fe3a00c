// Hands-free conversation: the page's client of WS /ws/conversation (docs/realtime.md).
// Gradio runs handsfree_audio.js and this file as the `js_on_load` body of the section's
// gr.HTML, then calls setupHandsfree on the section (webapp/ui/handsfree.py). The sign-in
// cookie (HttpOnly) authenticates the WebSocket, so no token ever reaches this script.
// Progress, for people on the status line and for tests on #handsfree-log: data-turns,
// data-audio-bytes, data-played-ms, data-output-rate and data-session-id.
//
// The conversation goes on in the one the page shows (its id in the hidden #page-session),
// and each turn, once stored, is shown in the page's Conversation view with its timings:
// `trigger("submit", {session_id, turn_id, interrupted})` on the section's gr.HTML runs the
// page's handler, which reads the session back from the history (`interrupted` says to wait
// until the turn's heard part is stored).

function setupHandsfree(root, trigger) {
  "use strict";
  const button = root.querySelector("#handsfree-start");
  const statusLine = root.querySelector("#handsfree-status");
  const log = root.querySelector("#handsfree-log");
  const MAX_CONTEXT_RATE = 48000; // the server takes 8000 to 48000 Hz
  const MAX_BUFFERED = 1 << 20; // a stalled socket drops microphone audio instead of hoarding it
  const PLAYBACK_REPORT_MS = 250;
  const ENDINGS = {
    end: "The agent said goodbye: the conversation is over. Press Start conversation to talk again.",
    transfer: "The agent handed the conversation over to a person.",
    idle: "The conversation ended after a long silence. Press Start conversation to talk again.",
  };
  const NOT_OPENED =
    "Could not open the conversation: the server is unreachable or refused it " +
    "(if your sign-in expired, reload the page to sign in again).";

  let call = null; // the conversation in progress, if any
  log.dataset.audioBytes = "0";
  log.dataset.turns = "0";
  log.dataset.playedMs = "0";

  function setState(state, text, isError) {
    root.dataset.state = state;
    button.dataset.state = state;
    statusLine.textContent = text;
    statusLine.classList.toggle("handsfree-error", Boolean(isError));
  }

  function addLine(who, text, cls) {
    // Returns the span holding the text; server text only ever goes in through textContent.
    const line = document.createElement("div");
    line.className = "handsfree-line " + cls;
    const name = document.createElement("b");
    name.textContent = who + ": ";
    const body = document.createElement("span");
    body.textContent = text;
    line.append(name, body);
    log.append(line);
    log.scrollTop = log.scrollHeight;
    return body;
  }

  function markInterrupted(body, heard) {
    // Keeps what was heard as is and strikes out the rest of the answer.
    if (!body || body.parentElement.classList.contains("handsfree-interrupted")) return;
    const line = body.parentElement;
    line.classList.add("handsfree-interrupted");
    const text = body.textContent;
    if (heard && text.startsWith(heard) && heard.length < text.length) {
      body.textContent = heard;
      const unheard = document.createElement("span");
      unheard.className = "handsfree-unheard";
      unheard.textContent = text.slice(heard.length);
      line.append(unheard);
    }
    const note = document.createElement("i");
    note.className = "handsfree-note";
    note.textContent = " (interrupted)";
    line.append(note);
    if (typeof heard === "string") line.dataset.heard = heard;
  }

  function pageSession() {
    const box = document.querySelector("#page-session textarea, #page-session input");
    return box ? box.value.trim() : "";
  }

  function showInConversation(sessionId, turnId, interrupted) {
    if (!sessionId) return;
    trigger("submit", {
      session_id: sessionId,
      turn_id: turnId || null,
      interrupted: Boolean(interrupted),
    });
  }

  function closeReason(event) {
    if (event.code === 1000) return "";
    if (event.code === 1008 && (!event.reason || /token/i.test(event.reason))) {
      return "Your sign-in is no longer valid: reload the page to sign in again.";
    }
    if (event.code === 1008) return "The server refused the conversation: " + event.reason;
    if (event.code === 1006) return "The connection to the server was lost.";
    const detail = event.reason ? ": " + event.reason : "";
    return "The conversation ended (code " + event.code + detail + ").";
  }

  class Conversation {
    constructor() {
      this.ctx = null;
      this.stream = null;
      this.nodes = [];
      this.player = null;
      this.ws = null;
      this.opened = false;
      this.stopped = false;
      this.error = ""; // a fatal error event, shown when the socket closes
      this.outputRate = 22050;
      this.receiving = false; // between audio_start and audio_end
      this.answers = new Map(); // turn_id -> the answer's line in the log
      this.userLine = null; // while its transcript is not final
      this.askedLine = null; // the final transcript waiting for its turn_id
      this.agentLine = null;
      this.reportTimer = null;
      this.lastReport = -1;
      this.sessionId = "";
      this.answering = null; // the turn whose answer is under way or playing, once known
    }

    busy() {
      // The agent is answering: stopping now interrupts it.
      const answering = ["thinking", "queued", "speaking"].includes(root.dataset.state);
      return answering || this.receiving || Boolean(this.player && this.player.playing);
    }

    async start() {
      setState("connecting", "Opening the microphone…");
      // Created inside the click, so that the browser lets it play sound.
      const AudioCtx = window.AudioContext || window.webkitAudioContext;
      this.ctx = new AudioCtx();
      if (this.ctx.sampleRate > MAX_CONTEXT_RATE) {
        this.ctx.close();
        this.ctx = new AudioCtx({ sampleRate: MAX_CONTEXT_RATE });
      }
      const resumed = this.ctx.resume();
      this.player = new PcmPlayer(this.ctx, () => this.onDrained());
      this.stream = await openMicrophone();
      await resumed;
      if (this.stopped) return this.stop(); // Stop pressed while the browser asked
      this.nodes = await startCapture(this.ctx, this.stream, (frame) => this.send(frame));
      if (this.stopped) return this.stop();
      this.connect();
    }

    connect() {
      setState("connecting", "Connecting…");
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const session = pageSession();
      const query =
        "?sample_rate=" +
        this.ctx.sampleRate +
        (session ? "&session_id=" + encodeURIComponent(session) : "");
      const ws = new WebSocket(scheme + "://" + location.host + "/ws/conversation" + query);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => {
        this.opened = true;
      };
      ws.onmessage = (event) => {
        if (typeof event.data === "string") this.onEvent(JSON.parse(event.data));
        else this.onAudio(event.data);
      };
      ws.onclose = (event) => {
        if (this.stopped) return;
        if (this.ended) return finish(this.ended, false);
        const reason = this.error || (this.opened ? closeReason(event) : NOT_OPENED);
        finish(reason || "The conversation ended.", Boolean(reason));
      };
      this.ws = ws;
    }

    send(frame) {
      const ws = this.ws;
      if (ws && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < MAX_BUFFERED) {
        ws.send(frame);
      }
    }

    sendJson(message) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
    }

    onEvent(event) {
      switch (event.type) {
        case "ready":
          this.outputRate = event.output_sample_rate || this.outputRate;
          log.dataset.outputRate = String(this.outputRate);
          log.dataset.sessionId = event.session_id || "";
          this.sessionId = event.session_id || "";
          setState("listening", "Listening… speak whenever you like.");
          break;
        case "speech_started":
          if (!this.player.playing) setState("hearing", "Hearing you…");
          break;
        case "speech_stopped":
          setState("thinking", "Thinking…");
          break;
        case "transcript":
          this.onTranscript(event);
          break;
        case "queued":
          setState("queued", "Waiting for the models (position " + event.position + ")…");
          break;
        case "answer":
          if (!this.agentLine) this.agentLine = addLine("Agent", "", "handsfree-agent");
          this.agentLine.textContent += event.delta;
          log.scrollTop = log.scrollHeight;
          break;
        case "answer_restart":
          if (this.agentLine) this.agentLine.textContent = "";
          break;
        case "audio_start":
          this.receiving = true;
          this.answering = event.turn_id;
          this.numberAnswer(event.turn_id);
          this.player.newAnswer(event.sample_rate || this.outputRate);
          this.lastReport = -1;
          setState("speaking", "Agent speaking… (speak to interrupt)");
          if (!this.reportTimer) {
            this.reportTimer = setInterval(() => this.reportPlayback(), PLAYBACK_REPORT_MS);
          }
          break;
        case "audio_end":
          this.receiving = false;
          if (!this.player.playing) this.onDrained();
          break;
        case "interrupted":
          // May come after `turn`: all of the answer was sent but it was still playing here.
          this.receiving = false;
          this.player.stop();
          this.stopReports();
          if (!this.answers.has(event.turn_id)) this.numberAnswer(event.turn_id);
          markInterrupted(this.answers.get(event.turn_id) || this.agentLine, event.heard_text);
          this.agentLine = null;
          this.askedLine = null;
          this.answering = null;
          showInConversation(this.sessionId, event.turn_id, true);
          setState("hearing", "Interrupted: go ahead…");
          break;
        case "resumed":
          // The user went on before hearing the answer: that turn is withdrawn, and the next
          // transcript covers what was said before the pause too.
          if (this.agentLine) this.agentLine.parentElement.remove();
          if (this.askedLine) this.askedLine.parentElement.remove();
          this.agentLine = null;
          this.askedLine = null;
          setState("hearing", "Hearing you…");
          break;
        case "turn":
          if (!this.agentLine && event.answer && !this.answers.has(event.turn_id)) {
            this.agentLine = addLine("Agent", "", "handsfree-agent");
          }
          if (this.agentLine && !this.agentLine.textContent) {
            this.agentLine.textContent = event.answer || "";
          }
          this.numberAnswer(event.turn_id);
          if (event.interrupted) markInterrupted(this.answers.get(event.turn_id), null);
          this.agentLine = null;
          this.askedLine = null;
          log.dataset.turns = String(Number(log.dataset.turns) + 1);
          showInConversation(event.session_id || this.sessionId, event.turn_id, event.interrupted);
          // An answer without audio leaves the page thinking; the engine listens again now.
          if (["thinking", "queued"].includes(root.dataset.state)) {
            setState("listening", "Listening…");
          }
          break;
        case "tool":
          // A tool the agent calls, then its result: shown as a small line in the chat.
          if (event.ok !== null && event.ok !== undefined) {
            addLine("Tool", event.name + (event.ok ? " ✓" : " ✗"), "handsfree-tool");
          }
          break;
        case "end":
          // The agent ended the conversation (a goodbye, a transfer, silence); its last words
          // have played and the socket closes next.
          this.ended = ENDINGS[event.reason] || "The agent ended the conversation.";
          break;
        case "error": {
          if (event.fatal) this.error = "Error: " + event.message;
          const after = event.fatal ? "" : " (still listening)";
          setState("error", "Error: " + event.message + after, true);
          break;
        }
        default:
          break; // events this page does not use
      }
    }

    onTranscript(event) {
      // A speculative transcript shows in grey until the final one replaces it.
      const text = (event.text || "").trim();
      if (!this.userLine) {
        if (!text) return;
        this.userLine = addLine("You", text, "handsfree-user");
      }
      this.userLine.textContent = text;
      this.userLine.parentElement.classList.toggle("handsfree-tentative", !event.final);
      if (event.final) {
        this.answering = null; // a new turn; its id comes with its audio
        if (!text) this.userLine.parentElement.remove();
        this.askedLine = text ? this.userLine : null;
        this.userLine = null;
        this.agentLine = null;
      }
    }

    numberAnswer(turnId) {
      // Ties the question's and the answer's lines to their turn: `interrupted` may come for
      // it later, and a turn talked over mid-answer gets no `turn` event.
      if (this.askedLine) this.askedLine.parentElement.dataset.turnId = turnId;
      if (!this.agentLine) return;
      this.answers.set(turnId, this.agentLine);
      this.agentLine.parentElement.dataset.turnId = turnId;
    }

    onAudio(data) {
      if (!this.receiving) return; // the rest of an answer that was interrupted
      const bytes = this.player.push(data);
      log.dataset.audioBytes = String(Number(log.dataset.audioBytes) + bytes);
    }

    onDrained() {
      // The last scheduled chunk ended; the answer is over once audio_end has come too.
      if (this.receiving || this.stopped) return;
      this.reportPlayback();
      this.stopReports();
      setState("listening", "Listening…");
    }

    reportPlayback() {
      const ms = this.player.playedMs();
      if (ms === this.lastReport) return;
      this.lastReport = ms;
      this.sendJson({ type: "playback", played_ms: ms });
      log.dataset.playedMs = String(this.player.totalPlayedMs());
    }

    stopReports() {
      clearInterval(this.reportTimer);
      this.reportTimer = null;
      log.dataset.playedMs = String(this.player.totalPlayedMs());
    }

    stop() {
      // Hang up now: silence, socket closed, microphone released. Safe to call twice.
      this.stopped = true;
      if (this.player) {
        this.player.stop();
        this.stopReports();
      }
      if (this.ws && this.ws.readyState <= WebSocket.OPEN) {
        this.ws.close(1000, "stopped by the user");
      }
      for (const node of this.nodes) node.disconnect();
      if (this.stream) for (const track of this.stream.getTracks()) track.stop();
      if (this.ctx && this.ctx.state !== "closed") this.ctx.close();
    }
  }

  function finish(message, isError) {
    if (call) call.stop();
    call = null;
    button.textContent = "Start conversation";
    button.classList.remove("handsfree-running");
    setState(isError ? "error" : "idle", message, isError);
  }

  button.addEventListener("click", () => {
    if (call) {
      // Stopped mid-answer: the server keeps the part that was heard, marked interrupted.
      const stopped = call;
      const interrupted = stopped.busy();
      finish("Stopped. Press Start conversation to talk again.", false);
      if (interrupted) showInConversation(stopped.sessionId, stopped.answering, true);
      return;
    }
    const current = new Conversation();
    call = current;
    button.textContent = "Stop";
    button.classList.add("handsfree-running");
    current.start().catch((err) => {
      if (call === current) finish(err && err.message ? err.message : String(err), true);
      else current.stop();
    });
  });

  setState("idle", "Press Start conversation, then just talk; the agent answers when you pause.");
}
