// A hands-free conversation over `WS /ws/conversation` (docs/realtime.md): the microphone goes
// up as PCM16, the agent's voice comes down as PCM16 and plays, and when the server says the
// user spoke over the answer (`interrupted`), it stops at once. Framework-free: the React
// component only shows what the callbacks say.
import type { ApiClient } from "../api-client";
import type { ClientMessage, ServerEvent } from "../api-types";
import { createAnalyser } from "../audio/level";
import { closeMicrophone, openMicrophone } from "../audio/microphone";
import { capturePcm16 } from "./capture";
import { PcmPlayer } from "./player";

/** What the conversation is doing, as far as the person in front of it can tell. */
export type ConversationState =
  "connecting" | "listening" | "hearing" | "thinking" | "queued" | "speaking";

export type ConversationHandlers = {
  /** Every JSON event, in order (the transcript is built from them). */
  onEvent: (event: ServerEvent) => void;
  onState: (state: ConversationState) => void;
  /** Milliseconds of the agent's voice played in this conversation so far. */
  onPlayed: (ms: number) => void;
  /** The conversation ended by itself (not after `stop()`): why, and whether it is an error. */
  onClose: (message: string, isError: boolean) => void;
};

const MAX_INPUT_RATE = 48000; // the server takes 8000 to 48000 Hz
const MAX_BUFFERED = 1 << 20; // a stalled socket drops microphone audio instead of hoarding it
const PLAYBACK_REPORT_MS = 250;
const ENDINGS: Record<string, string> = {
  end: "The agent said goodbye: the conversation is over.",
  transfer: "The agent handed the conversation over to a person.",
  idle: "The conversation ended after a long silence.",
};

function closeMessage(event: CloseEvent, opened: boolean): string {
  if (!opened) return "Could not open the conversation: the server is unreachable or refused it.";
  if (event.code === 1000) return "The conversation ended.";
  if (event.code === 1008 && /token/i.test(event.reason || "token")) {
    return "Your sign-in is no longer valid: sign in again.";
  }
  if (event.code === 1008) return `The server refused the conversation: ${event.reason}`;
  if (event.code === 1013) return "The server is busy with other conversations: try again later.";
  if (event.code === 1006) {
    // The answered turns are stored: starting again continues the same session.
    return "The connection to the server was lost: press Start conversation to go on.";
  }
  return `The conversation ended (code ${event.code}${event.reason ? `: ${event.reason}` : ""}).`;
}

export class Conversation {
  /** The microphone's level, for a meter, once the conversation has started. */
  analyser: AnalyserNode | null = null;
  private readonly context: AudioContext;
  private readonly player: PcmPlayer;
  private stream: MediaStream | null = null;
  private capture: AudioWorkletNode | null = null;
  private socket: WebSocket | null = null;
  private opened = false;
  private ready = false;
  private stopped = false;
  private receiving = false; // between audio_start and audio_end
  private fatal = ""; // a fatal error event, told when the socket closes
  private ending = ""; // the agent ended the conversation: why
  private earlierPlayedMs = 0; // of the answers before this one
  private lastReport = -1;
  private reportTimer: ReturnType<typeof setInterval> | null = null;

  /** Call from a click: the audio context made here is allowed to play. */
  constructor(
    private readonly client: ApiClient,
    private readonly sessionId: string | null,
    private readonly handlers: ConversationHandlers,
  ) {
    let context = new AudioContext();
    if (context.sampleRate > MAX_INPUT_RATE) {
      void context.close();
      context = new AudioContext({ sampleRate: MAX_INPUT_RATE });
    }
    this.context = context;
    this.player = new PcmPlayer(this.context, () => this.onDrained());
  }

  /** Opens the microphone, then the socket; throws an Error a person can act on. */
  async start(): Promise<void> {
    this.handlers.onState("connecting");
    await this.context.resume();
    this.stream = await openMicrophone();
    if (this.stopped) return this.stop(); // stopped while the browser asked for the microphone
    const source = this.context.createMediaStreamSource(this.stream);
    this.analyser = createAnalyser(source);
    this.capture = await capturePcm16(source, (frame) => this.sendAudio(frame));
    if (this.stopped) return this.stop();
    this.connect();
  }

  /** Stops the agent's answer now, as if the user had spoken over it. */
  interrupt(): void {
    this.send({ type: "interrupt" });
  }

  /** Hangs up now: silence, socket closed, microphone let go. Safe to call twice. */
  stop(): void {
    this.stopped = true;
    this.player.stop();
    this.stopReports(false);
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) {
      this.socket.close(1000, "stopped by the user");
    }
    this.capture?.disconnect();
    if (this.stream) closeMicrophone(this.stream);
    if (this.context.state !== "closed") void this.context.close();
  }

  private connect(): void {
    const url = this.client.conversationUrl(this.context.sampleRate, this.sessionId);
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      this.opened = true;
    };
    socket.onmessage = (message: MessageEvent<string | ArrayBuffer>) => {
      if (typeof message.data === "string") this.onEvent(JSON.parse(message.data) as ServerEvent);
      else this.onAudio(message.data);
    };
    socket.onclose = (event) => {
      if (this.stopped) return;
      this.stop();
      if (this.ending) this.handlers.onClose(this.ending, false);
      else if (this.fatal) this.handlers.onClose(this.fatal, true);
      else this.handlers.onClose(closeMessage(event, this.opened), event.code !== 1000);
    };
    this.socket = socket;
  }

  private send(message: ClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private sendAudio(frame: ArrayBuffer): void {
    // Only once the server has said which rate it hears: it took ours from the query.
    const socket = this.socket;
    if (
      this.ready &&
      socket?.readyState === WebSocket.OPEN &&
      socket.bufferedAmount < MAX_BUFFERED
    ) {
      socket.send(frame);
    }
  }

  private onEvent(event: ServerEvent): void {
    switch (event.type) {
      case "ready":
        if (event.input_sample_rate !== this.context.sampleRate) {
          const [server, here] = [event.input_sample_rate, this.context.sampleRate];
          this.fatal = `The server expects ${server} Hz audio; this page records ${here} Hz.`;
          this.socket?.close(1000);
          return;
        }
        this.ready = true;
        this.handlers.onState("listening");
        break;
      case "speech_started":
        if (!this.player.playing) this.handlers.onState("hearing");
        break;
      case "speech_stopped":
        this.handlers.onState("thinking");
        break;
      case "queued":
        this.handlers.onState("queued");
        break;
      case "audio_start":
        this.receiving = true;
        this.earlierPlayedMs += this.player.playedMs();
        this.player.newAnswer(event.sample_rate);
        this.lastReport = -1;
        this.reportTimer ??= setInterval(() => this.reportPlayback(), PLAYBACK_REPORT_MS);
        this.handlers.onState("speaking");
        break;
      case "audio_end":
        this.receiving = false;
        if (!this.player.playing) this.onDrained();
        break;
      case "interrupted":
        // Barge-in: stop the voice at once and drop what is still on its way. It may come
        // after `turn`, when all of the answer was sent but it was still playing here.
        this.receiving = false;
        this.player.stop();
        this.stopReports(false);
        this.handlers.onState("hearing");
        break;
      case "resumed":
        this.handlers.onState("hearing");
        break;
      case "turn":
        // An answer without audio (no voice on the server) leaves nothing to wait for.
        if (!this.receiving && !this.player.playing) this.handlers.onState("listening");
        break;
      case "end":
        // Its last words have played; the socket closes next.
        this.ending = ENDINGS[event.reason] ?? "The agent ended the conversation.";
        break;
      case "error":
        if (event.fatal) this.fatal = event.message;
        break;
    }
    this.handlers.onEvent(event);
  }

  private onAudio(data: ArrayBuffer): void {
    if (this.receiving) this.player.push(data); // else: the rest of an interrupted answer
  }

  private onDrained(): void {
    // The last scheduled chunk ended; the answer is over once audio_end has come too.
    if (this.receiving || this.stopped) return;
    this.stopReports(true);
    this.handlers.onState("listening");
  }

  private reportPlayback(): void {
    // Tells the server how much was heard, so an interruption stores exactly that.
    const ms = this.player.playedMs();
    if (ms === this.lastReport) return;
    this.lastReport = ms;
    this.send({ type: "playback", played_ms: ms });
    this.handlers.onPlayed(this.earlierPlayedMs + ms);
  }

  /** Ends the reports of this answer; `report`: with a last one (played to its end). After an
   * interruption there is none: the server has already counted what was heard. */
  private stopReports(report: boolean): void {
    if (this.reportTimer === null) return;
    clearInterval(this.reportTimer);
    this.reportTimer = null;
    if (report) this.reportPlayback();
    else this.handlers.onPlayed(this.earlierPlayedMs + this.player.playedMs());
  }
}
