// The transcript of a hands-free conversation, built from its events: a pure reducer.
import type { ServerEvent } from "../api-types";

export type Line = {
  key: number;
  who: "you" | "agent" | "tool";
  text: string;
  /** The stored turn this line belongs to, once the server has said. */
  turnId: number | null;
  /** A transcript made during a pause, before the turn is decided. */
  tentative: boolean;
  /** The agent was talked over: the part of its answer that was heard. */
  heard: string | null;
};

export type Log = {
  lines: Line[];
  nextKey: number;
  hearing: number | null; // the user's line while its transcript is not final
  asked: number | null; // the final transcript, waiting for its turn id
  answering: number | null; // the agent's line being written
};

export const emptyLog: Log = { lines: [], nextKey: 0, hearing: null, asked: null, answering: null };

function add(log: Log, who: Line["who"], text: string): [Log, number] {
  const line: Line = { key: log.nextKey, who, text, turnId: null, tentative: false, heard: null };
  return [{ ...log, lines: [...log.lines, line], nextKey: log.nextKey + 1 }, line.key];
}

function update(log: Log, key: number | null, change: (line: Line) => Partial<Line>): Log {
  if (key === null) return log;
  return { ...log, lines: log.lines.map((l) => (l.key === key ? { ...l, ...change(l) } : l)) };
}

function remove(log: Log, ...keys: (number | null)[]): Log {
  return { ...log, lines: log.lines.filter((line) => !keys.includes(line.key)) };
}

/** Ties the question and the answer under way to their stored turn. */
function numbered(log: Log, turnId: number): Log {
  return update(
    update(log, log.asked, () => ({ turnId })),
    log.answering,
    () => ({ turnId }),
  );
}

export function logEvent(log: Log, event: ServerEvent): Log {
  switch (event.type) {
    case "transcript": {
      const text = event.text.trim();
      let key = log.hearing;
      if (key === null) {
        if (!text) return log;
        [log, key] = add(log, "you", text);
      }
      log = update(log, key, () => ({ text, tentative: !event.final }));
      if (!event.final) return { ...log, hearing: key };
      if (!text) log = remove(log, key);
      return { ...log, hearing: null, asked: text ? key : null, answering: null };
    }
    case "answer": {
      let key = log.answering;
      if (key === null) [log, key] = add(log, "agent", "");
      return { ...update(log, key, (line) => ({ text: line.text + event.delta })), answering: key };
    }
    case "answer_restart":
      return update(log, log.answering, () => ({ text: "" }));
    case "audio_start":
      return numbered(log, event.turn_id);
    case "interrupted": {
      // May come after `turn`: the answer's line is then found by its turn id.
      const line = log.lines.find((l) => l.who === "agent" && l.turnId === event.turn_id);
      const key = line ? line.key : log.answering;
      log = update(numbered(log, event.turn_id), key, () => ({ heard: event.heard_text }));
      return { ...log, asked: null, answering: null };
    }
    case "resumed":
      // The turn was not over: its question and answer are withdrawn, and the next final
      // transcript covers both sides of the pause.
      return { ...remove(log, log.asked, log.answering), asked: null, answering: null };
    case "turn": {
      // The whole answer: shown as is if no piece of it came (or none was kept).
      let key = log.answering;
      if (key === null && event.answer) [log, key] = add(log, "agent", "");
      log = update({ ...log, answering: key }, key, (line) => ({
        text: line.text || event.answer,
      }));
      return { ...numbered(log, event.turn_id), asked: null, answering: null };
    }
    case "tool":
      if (event.ok === null) return log; // the call started; its result follows
      return add(log, "tool", `${event.name} ${event.ok ? "✓" : "✗"}`)[0];
    default:
      return log;
  }
}
