"use client";

import { useEffect, useRef } from "react";

import { levelOf } from "@/lib/audio/level";

/** How loud the microphone is, redrawn every frame while `analyser` is set. */
export function LevelMeter({ analyser }: { analyser: AnalyserNode | null }) {
  const meter = useRef<HTMLDivElement>(null);
  const bar = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const box = meter.current;
    const fill = bar.current;
    if (!analyser || !box || !fill) return;
    const samples = new Float32Array(analyser.fftSize);
    let frame = 0;
    const draw = () => {
      // Written to the DOM directly: a re-render sixty times a second would be wasted work.
      const level = levelOf(analyser, samples);
      fill.style.transform = `scaleX(${level})`;
      box.setAttribute("aria-valuenow", level.toFixed(2));
      frame = requestAnimationFrame(draw);
    };
    draw();
    return () => {
      cancelAnimationFrame(frame);
      fill.style.transform = "scaleX(0)";
      box.setAttribute("aria-valuenow", "0");
    };
  }, [analyser]);

  return (
    <div
      ref={meter}
      className="meter"
      role="meter"
      aria-label="Microphone level"
      aria-valuemin={0}
      aria-valuemax={1}
      aria-valuenow={0}
    >
      <div ref={bar} className="meter-bar" />
    </div>
  );
}
