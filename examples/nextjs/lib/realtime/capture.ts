// The microphone as 20 ms PCM16 frames, from an AudioWorklet (public/pcm16-capture.js).

const FRAME_MS = 20;
const WORKLET_URL = "/pcm16-capture.js";

/** Calls `onFrame` with every 20 ms of `source` as PCM16 little-endian mono at the context's
 * rate; returns the worklet node (disconnect it to stop). */
export async function capturePcm16(
  source: MediaStreamAudioSourceNode,
  onFrame: (frame: ArrayBuffer) => void,
): Promise<AudioWorkletNode> {
  const context = source.context as AudioContext;
  await context.audioWorklet.addModule(WORKLET_URL);
  const node = new AudioWorkletNode(context, "pcm16-capture", {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    channelCount: 1,
    channelCountMode: "explicit",
    processorOptions: { frameSamples: Math.round((context.sampleRate * FRAME_MS) / 1000) },
  });
  node.port.onmessage = (event: MessageEvent<ArrayBuffer>) => onFrame(event.data);
  // A node only processes when it reaches the output; a muted gain keeps it silent.
  const mute = context.createGain();
  mute.gain.value = 0;
  source.connect(node);
  node.connect(mute);
  mute.connect(context.destination);
  return node;
}
