// How loud the microphone is, for a level meter.

/** An analyser fed by `source`; read its level with `levelOf`. */
export function createAnalyser(source: AudioNode): AnalyserNode {
  const analyser = source.context.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  return analyser;
}

/** The analyser's latest window as a level from 0 to 1: RMS on a decibel scale from -60 dB. */
export function levelOf(analyser: AnalyserNode, samples: Float32Array<ArrayBuffer>): number {
  analyser.getFloatTimeDomainData(samples);
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / samples.length);
  const db = 20 * Math.log10(rms || 1e-9);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}
