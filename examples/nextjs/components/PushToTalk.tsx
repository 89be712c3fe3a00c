"use client";

import { type ChangeEvent, useEffect, useRef, useState } from "react";

import { LevelMeter } from "@/components/LevelMeter";
import { type ApiClient, ApiError } from "@/lib/api-client";
import type { AnswerResponse } from "@/lib/api-types";
import { Recorder } from "@/lib/audio/recorder";

type Phase = "idle" | "recording" | "transcribing" | "answering" | "error";

type Exchange = { key: number; question: string; answer: string; note: string | null };

type Props = {
  client: ApiClient;
  sessionId: string | null;
  onSession: (sessionId: string) => void;
};

const READY = "Press Record and ask a question, or upload a recording.";

function seconds(ms: number | null | undefined): string {
  return ms == null ? "–" : `${(ms / 1000).toFixed(1)} s`;
}

/** Record (or pick a file), `POST /upload`, then stream `POST /response` and play its audio. */
export function PushToTalk({ client, sessionId, onSession }: Props) {
  const [phase, setPhase] = useState<Phase>("idle");
  const [status, setStatus] = useState(READY);
  const [recorder, setRecorder] = useState<Recorder | null>(null);
  const [elapsed, setElapsed] = useState(0);
  const [exchanges, setExchanges] = useState<Exchange[]>([]);
  const [speech, setSpeech] = useState<string | null>(null); // object URL of the spoken answer
  const abort = useRef<AbortController | null>(null);

  // The recording's clock, while it runs.
  useEffect(() => {
    if (!recorder) return;
    const timer = setInterval(() => setElapsed(Date.now() - recorder.startedAt), 200);
    return () => clearInterval(timer);
  }, [recorder]);

  // Let go of the microphone and of requests under way when the page goes (or signs out).
  useEffect(() => () => recorder?.cancel(), [recorder]);
  useEffect(() => () => abort.current?.abort(), []);
  useEffect(
    () => () => {
      if (speech) URL.revokeObjectURL(speech);
    },
    [speech],
  );

  function fail(err: unknown) {
    setPhase("error");
    setStatus(err instanceof Error ? err.message : String(err));
  }

  function setAnswer(key: number, change: (exchange: Exchange) => Partial<Exchange>) {
    setExchanges((all) => all.map((e) => (e.key === key ? { ...e, ...change(e) } : e)));
  }

  async function record() {
    try {
      setElapsed(0);
      setRecorder(await Recorder.start());
      setPhase("recording");
      setStatus("Recording… press Stop when you are done.");
    } catch (err) {
      fail(err);
    }
  }

  async function stop() {
    if (!recorder) return;
    setRecorder(null);
    try {
      const { audio, fileName } = await recorder.stop();
      await ask(audio, fileName);
    } catch (err) {
      fail(err);
    }
  }

  async function pick(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    event.target.value = ""; // the same file may be picked again
    if (file) await ask(file, file.name);
  }

  async function ask(audio: Blob, fileName: string) {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    const { signal } = controller;
    setPhase("transcribing");
    setStatus("Transcribing…");
    setSpeech(null);
    try {
      const heard = await client.upload(audio, fileName, sessionId, signal);
      if (heard.turn_id === null || heard.session_id === null) {
        setPhase("idle");
        setStatus("No speech was heard: try again, a little closer to the microphone.");
        return;
      }
      const session = heard.session_id;
      onSession(session);
      const key = heard.turn_id;
      setExchanges((all) => [
        ...all,
        { key, question: heard.transcription, answer: "", note: null },
      ]);
      setPhase("answering");
      setStatus("Answering…");

      // The answer to the transcription just stored: empty text, the same session.
      let done: AnswerResponse | null = null;
      const events = client.answer(
        { text: "", session_id: session, stream: true, audio: "url" },
        signal,
      );
      for await (const event of events) {
        switch (event.event) {
          case "delta":
            setAnswer(key, (e) => ({ answer: e.answer + event.data.text }));
            break;
          case "restart":
            setAnswer(key, () => ({
              answer: "",
              note: "The cloud model failed; the local one answers.",
            }));
            break;
          case "tool":
            setAnswer(key, () => ({ note: `Calling ${event.data.name}…` }));
            break;
          case "done":
            done = event.data;
            setAnswer(key, () => ({
              answer: event.data.response,
              note: event.data.fallback ?? null,
            }));
            break;
          case "error":
            throw new ApiError(event.data.status, event.data.detail);
        }
      }
      if (!done) throw new Error("The answer stopped before its end.");
      const timings = `transcribed in ${seconds(heard.stt_ms)}, first word after ${seconds(done.timings.llm_first_token_ms)}`;
      if (done.audio_url) {
        setStatus("Speaking the answer…");
        setSpeech(URL.createObjectURL(await client.speech(done.audio_url, signal)));
      }
      setPhase("idle");
      setStatus(`Done: ${timings}.`);
    } catch (err) {
      if (!signal.aborted) fail(err);
    }
  }

  const busy = phase === "transcribing" || phase === "answering";
  return (
    <section id="push-to-talk" className="card" data-state={phase} aria-busy={busy}>
      <h2>Ask a question</h2>
      <div className="controls">
        {recorder ? (
          <button id="record" className="recording" aria-pressed="true" onClick={stop}>
            ■ Stop
          </button>
        ) : (
          <button id="record" aria-pressed="false" onClick={record} disabled={busy}>
            ● Record
          </button>
        )}
        <LevelMeter analyser={recorder?.analyser ?? null} />
        <span className="clock" aria-live="off">
          {recorder ? `${(elapsed / 1000).toFixed(1)} s` : ""}
        </span>
        <label className="file">
          or upload a recording
          <input
            id="upload"
            type="file"
            accept="audio/*"
            onChange={pick}
            disabled={busy || !!recorder}
          />
        </label>
      </div>
      <p id="status" className={phase === "error" ? "status error" : "status"} role="status">
        {status}
      </p>
      <ol id="exchanges" className="exchanges">
        {exchanges.map((e) => (
          <li key={e.key} data-turn-id={e.key}>
            <p className="you">
              <b>You:</b> <span className="transcription">{e.question}</span>
            </p>
            <p className="agent">
              <b>Agent:</b> <span className="answer">{e.answer}</span>
            </p>
            {e.note && <p className="note">{e.note}</p>}
          </li>
        ))}
      </ol>
      {/* A new answer's audio plays by itself: the click on Stop (or on the file picker)
          lets the page play sound. */}
      <audio id="answer-audio" controls autoPlay src={speech ?? undefined} hidden={!speech} />
    </section>
  );
}
