// A recording of the microphone with MediaRecorder, in a format the backend decodes.

import { closeMicrophone, openMicrophone } from "./microphone";
import { createAnalyser } from "./level";

// What /upload accepts (wav, mp3, ogg/opus, webm, m4a, flac), in the order browsers record it.
const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
const EXTENSIONS: Record<string, string> = { webm: "webm", ogg: "ogg", mp4: "m4a" };

export type Recording = { audio: Blob; fileName: string };

export class Recorder {
  /** When the recording started (`Date.now()`). */
  readonly startedAt = Date.now();
  private chunks: Blob[] = [];

  private constructor(
    private readonly stream: MediaStream,
    private readonly context: AudioContext,
    private readonly recorder: MediaRecorder,
    /** The microphone's level, for a meter, while it records. */
    readonly analyser: AnalyserNode,
  ) {
    recorder.ondataavailable = (event) => {
      if (event.data.size) this.chunks.push(event.data);
    };
  }

  /** Opens the microphone and starts recording; throws an Error a person can act on. */
  static async start(): Promise<Recorder> {
    // Made before waiting for the microphone, while the click still counts as one: some
    // browsers keep a context made later suspended, and the level meter would stay flat.
    const context = new AudioContext();
    let stream: MediaStream;
    try {
      stream = await openMicrophone();
    } catch (err) {
      void context.close();
      throw err;
    }
    const mimeType = TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    const analyser = createAnalyser(context.createMediaStreamSource(stream));
    const recorder = new Recorder(
      stream,
      context,
      new MediaRecorder(stream, mimeType ? { mimeType } : undefined),
      analyser,
    );
    recorder.recorder.start();
    return recorder;
  }

  /** Stops, lets go of the microphone, and gives the recording. */
  stop(): Promise<Recording> {
    return new Promise((resolve, reject) => {
      this.recorder.onstop = () => {
        const type = this.recorder.mimeType || this.chunks[0]?.type || "audio/webm";
        const subtype = type.split(";")[0].split("/")[1];
        resolve({
          audio: new Blob(this.chunks, { type }),
          fileName: `recording.${EXTENSIONS[subtype] ?? subtype}`,
        });
      };
      this.recorder.onerror = () => reject(new Error("The recording failed."));
      this.release();
    });
  }

  /** Throws the recording away, if it is still under way. */
  cancel(): void {
    if (this.recorder.state === "inactive") return;
    this.recorder.onstop = null;
    this.release();
  }

  private release(): void {
    if (this.recorder.state !== "inactive") this.recorder.stop();
    closeMicrophone(this.stream);
    if (this.context.state !== "closed") void this.context.close();
  }
}
