// The microphone, with errors a person can act on.

function reason(err: unknown): string {
  if (!window.isSecureContext) {
    return "The microphone needs a secure page: open it over https or on localhost.";
  }
  const name = err instanceof DOMException ? err.name : "";
  if (name === "NotAllowedError") {
    return "Microphone access was refused: allow it in the site settings, then try again.";
  }
  if (name === "NotFoundError") return "No microphone was found.";
  if (name === "NotReadableError") return "The microphone is in use by another application.";
  return `Could not open the microphone: ${err instanceof Error ? err.message : String(err)}`;
}

/** One mono microphone stream; throws an Error whose message says what to do. */
export async function openMicrophone(): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error(reason(null));
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: {
        channelCount: 1,
        // Keeps the agent's own voice out of the microphone: hands-free would hear it as
        // the user talking over the answer.
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
      },
    });
  } catch (err) {
    throw new Error(reason(err));
  }
}

/** Let go of the microphone (the browser's recording indicator goes off). */
export function closeMicrophone(stream: MediaStream): void {
  for (const track of stream.getTracks()) track.stop();
}
