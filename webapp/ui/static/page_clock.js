// The page's clock for press-to-talk and typed turns: the moment the person stopped speaking.
// That moment is a press in the browser (Stop, the choice of a file to upload, Send or Enter),
// before the recording is encoded and uploaded, so it is noted here, in the capture phase,
// ahead of Gradio's own handlers. Each turn's event takes the mark with it (the `js` of its
// listener in webapp/ui/page.py calls `voiceAgentClock.take()`), and the server hands it to
// the player with the answer (page_player.js), which counts the first audio from it.

function setupPageClock() {
  let stoppedAt = null; // performance.now() of the last stop not yet taken by a turn

  function mark() {
    stoppedAt = performance.now();
  }

  function isStop(button) {
    // Gradio's recorder says "Stop" (its class: stop-button, or stop-button-paused).
    return /\bstop-button/.test(button.className) || button.textContent.trim() === "Stop";
  }

  document.addEventListener(
    "click",
    (event) => {
      const target = event.target instanceof Element ? event.target : null;
      const button = target && target.closest("button");
      if (button && button.closest("#mic") && isStop(button)) mark();
      else if (target && target.closest("#send")) mark();
    },
    { capture: true },
  );
  document.addEventListener(
    "keydown",
    (event) => {
      const target = event.target instanceof Element ? event.target : null;
      if (event.key === "Enter" && !event.shiftKey && target && target.closest("#typed")) mark();
    },
    { capture: true },
  );
  for (const kind of ["change", "drop"]) {
    document.addEventListener(
      kind,
      (event) => {
        // A file to upload chosen, or dropped (the recorder's device list changes too).
        const target = event.target instanceof Element ? event.target : null;
        if (!target || !target.closest("#mic")) return;
        if (kind === "drop" || target.matches("input[type=file]")) mark();
      },
      { capture: true },
    );
  }

  window.voiceAgentClock = {
    // What a turn's event sends along: when the person stopped, and how long ago that was
    // (the encoding and upload of a recording); "" when no stop was noted.
    take() {
      if (stoppedAt === null) return "";
      const now = performance.now();
      const taken = JSON.stringify({ stopped_at: stoppedAt, waited_ms: now - stoppedAt });
      stoppedAt = null;
      return taken;
    },
  };
}
