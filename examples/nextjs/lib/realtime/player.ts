// The agent's voice: PCM16 chunks played back to back, knowing how much of them has played.

const LEAD_S = 0.05; // after an underrun, start again this far ahead of now

export class PcmPlayer {
  private rate = 22050;
  private sources = new Set<AudioBufferSourceNode>();
  private nextTime = 0;
  private chunks: [start: number, duration: number][] = []; // the current answer's, context time
  private carry: number | null = null; // an odd byte left over from the last message
  private stoppedMs: number | null = null; // played of the current answer when it was stopped

  /** `onDrained` runs when the last scheduled chunk has finished playing. */
  constructor(
    private readonly context: AudioContext,
    private readonly onDrained: () => void,
  ) {}

  get playing(): boolean {
    return this.sources.size > 0;
  }

  /** The next chunks are a new answer, at `rate` Hz. */
  newAnswer(rate: number): void {
    this.chunks = [];
    this.carry = null;
    this.stoppedMs = null;
    this.rate = rate;
  }

  /** Schedules one binary message of PCM16 little-endian mono; returns its bytes of audio. */
  push(data: ArrayBuffer): number {
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
    const buffer = this.context.createBuffer(1, count, this.rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < count; i++) channel[i] = view.getInt16(i * 2, true) / 32768;
    const node = this.context.createBufferSource();
    node.buffer = buffer;
    node.connect(this.context.destination);
    const at = Math.max(this.nextTime, this.context.currentTime + LEAD_S);
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

  /** Milliseconds of the current answer played so far, rounded up (so an answer played to
   * its end never reads a hair short). */
  playedMs(): number {
    if (this.stoppedMs !== null) return this.stoppedMs;
    const now = this.context.currentTime;
    let total = 0;
    for (const [at, duration] of this.chunks) total += Math.min(Math.max(now - at, 0), duration);
    return Math.ceil(total * 1000);
  }

  /** Silence now: every scheduled chunk stops, and nothing more of this answer plays. */
  stop(): void {
    this.stoppedMs = this.playedMs();
    for (const node of this.sources) {
      node.onended = null;
      node.stop();
    }
    this.sources.clear();
    this.nextTime = 0;
  }
}
