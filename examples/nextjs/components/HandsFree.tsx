"use client";

import { useEffect, useReducer, useRef, useState } from "react";

import { LevelMeter } from "@/components/LevelMeter";
import type { ApiClient } from "@/lib/api-client";
import type { ServerEvent } from "@/lib/api-types";
import { Conversation, type ConversationState } from "@/lib/realtime/conversation";
import { emptyLog, type Line, logEvent } from "@/lib/realtime/log";

type Phase = ConversationState | "idle" | "error";

type Props = {
  client: ApiClient;
  sessionId: string | null;
  onSession: (sessionId: string) => void;
};

const STATUS: Record<Phase, string> = {
  idle: "Press Start conversation, then just talk: the agent answers when you pause.",
  connecting: "Connecting…",
  listening: "Listening… speak whenever you like.",
  hearing: "Hearing you…",
  thinking: "Thinking…",
  queued: "Waiting for the models, busy with other conversations…",
  speaking: "Speaking… talk to interrupt.",
  error: "",
};

function Said({ line }: { line: Line }) {
  if (line.who === "tool") return <p className="note">Tool: {line.text}</p>;
  const who = line.who === "you" ? "You" : "Agent";
  // An interrupted answer: what was heard, then the rest struck out.
  const heard = line.heard !== null && line.text.startsWith(line.heard) ? line.heard : line.text;
  return (
    <p
      className={`${line.who}${line.tentative ? " tentative" : ""}`}
      data-turn-id={line.turnId ?? undefined}
      data-interrupted={line.heard !== null || undefined}
    >
      <b>{who}:</b> <span className="said">{heard}</span>
      {line.heard !== null && (
        <>
          <s className="unheard">{line.text.slice(heard.length)}</s> <i>(interrupted)</i>
        </>
      )}
    </p>
  );
}

/** A spoken conversation over `WS /ws/conversation`: no buttons to press between turns. */
export function HandsFree({ client, sessionId, onSession }: Props) {
  const [phase, setPhase] = useState<Phase>("idle");
  const [message, setMessage] = useState<string | null>(null);
  const [log, dispatch] = useReducer(logEvent, emptyLog);
  const [playedMs, setPlayedMs] = useState(0);
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [analyser, setAnalyser] = useState<AnalyserNode | null>(null);
  const current = useRef<Conversation | null>(null);

  // Hang up when the page goes (or signs out).
  useEffect(() => () => current.current?.stop(), []);

  function finish(text: string | null, isError: boolean) {
    current.current?.stop();
    current.current = null;
    setConversation(null);
    setAnalyser(null);
    setPhase(isError ? "error" : "idle");
    setMessage(text);
  }

  function onEvent(event: ServerEvent) {
    dispatch(event);
    // A new session is stored with its first turn: until then, its id is no use elsewhere.
    if (event.type === "turn") onSession(event.session_id);
    if (event.type === "error" && !event.fatal) setMessage(`${event.message} (still listening)`);
  }

  async function start() {
    const started = new Conversation(client, sessionId, {
      onEvent,
      onState: (state) => {
        setPhase(state);
        setMessage(null);
      },
      onPlayed: setPlayedMs,
      onClose: finish,
    });
    current.current = started;
    setConversation(started);
    setPlayedMs(0);
    try {
      await started.start();
      setAnalyser(started.analyser);
    } catch (err) {
      if (current.current !== started) return; // stopped meanwhile
      finish(err instanceof Error ? err.message : String(err), true);
    }
  }

  const running = conversation !== null;
  return (
    <section id="hands-free" className="card" data-state={phase} data-played-ms={playedMs}>
      <h2>Hands-free conversation</h2>
      <div className="controls">
        <button
          id="handsfree-start"
          className={running ? "recording" : undefined}
          aria-pressed={running}
          onClick={() => (running ? finish("Stopped.", false) : start())}
        >
          {running ? "■ Stop" : "Start conversation"}
        </button>
        <LevelMeter analyser={analyser} />
        {phase === "speaking" && (
          <button className="secondary" onClick={() => conversation?.interrupt()}>
            Interrupt
          </button>
        )}
      </div>
      <p
        id="handsfree-status"
        className={phase === "error" ? "status error" : "status"}
        role="status"
      >
        {message ?? STATUS[phase]}
      </p>
      <div id="handsfree-log" className="log" aria-live="polite">
        {log.lines.map((line) => (
          <Said key={line.key} line={line} />
        ))}
      </div>
    </section>
  );
}
