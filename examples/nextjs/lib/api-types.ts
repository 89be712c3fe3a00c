// The backend's API as TypeScript, all in this one file for the app to import from:
// - the REST schemas, generated from the backend's OpenAPI document into lib/openapi.d.ts
//   (`npm run gen:api`; never edit that file), under the names this app uses;
// - written by hand, the two streams an OpenAPI document cannot describe: the Server-Sent
//   Events of `POST /response` (docs/api.md) and the messages of `WS /ws/conversation`
//   (docs/realtime.md). Keep these in step with those documents.
import type { components, paths } from "./openapi";

export type { components, paths };

type Schemas = components["schemas"];

// REST ------------------------------------------------------------------------------------

export type Credentials = Schemas["Credentials"];
export type TokenResponse = Schemas["TokenResponse"];
export type TranscriptionResponse = Schemas["TranscriptionResponse"];
export type AnswerRequest = Schemas["ResponseRequest"];
export type AnswerResponse = Schemas["ResponseResponse"];
export type ToolCall = Schemas["ToolCallPublic"];
/** Every error's body: `detail` is a sentence, or FastAPI's list for a validation error. */
export type ErrorBody = Schemas["ErrorResponse"] | Schemas["InvalidRequest"];

// POST /response with "stream": true --------------------------------------------------------

/** One Server-Sent Event of a streamed answer: `event` names it, `data` is its JSON. */
export type AnswerEvent =
  | {
      event: "start";
      data: { session_id: string; turn_id: number; language: string; personality: string };
    }
  | { event: "delta"; data: { text: string } }
  /** The cloud model failed mid-answer: drop the text so far, the local model starts over. */
  | { event: "restart"; data: { reason: string } }
  | { event: "tool"; data: { name: string; arguments: Record<string, unknown> } }
  | { event: "tool_result"; data: ToolCall }
  | { event: "done"; data: AnswerResponse }
  /** No model could finish the answer; the stream ends. */
  | { event: "error"; data: { detail: string; status: number } };

// WS /ws/conversation --------------------------------------------------------------------

export type RealtimeTimings = {
  transcript_ms: number | null;
  first_token_ms: number | null;
  first_audio_ms: number | null;
  stt_ms: number | null;
};

/** A JSON event from the server. The spoken answer comes as binary PCM16 messages instead,
 * between `audio_start` and `audio_end`. */
export type ServerEvent =
  | { type: "ready"; session_id: string; input_sample_rate: number; output_sample_rate: number }
  | { type: "speech_started"; at_ms: number }
  | { type: "speech_stopped"; at_ms: number }
  | { type: "transcript"; text: string; final: boolean; language: string }
  | { type: "queued"; position: number }
  | { type: "answer"; delta: string }
  | { type: "answer_restart"; reason: string }
  | { type: "audio_start"; turn_id: number; sample_rate: number }
  | { type: "audio_end"; turn_id: number }
  | { type: "interrupted"; turn_id: number; heard_text: string; heard_ms: number }
  | { type: "resumed"; at_ms: number }
  | {
      type: "turn";
      turn_id: number;
      session_id: string;
      user_text: string;
      answer: string;
      language: string;
      interrupted: boolean;
      timings: RealtimeTimings;
    }
  | {
      type: "tool";
      name: string;
      arguments: Record<string, unknown>;
      result: unknown;
      /** null while the tool runs, then whether it succeeded. */
      ok: boolean | null;
    }
  | { type: "end"; reason: "end" | "transfer" | "idle"; transfer_to: string | null }
  | { type: "error"; message: string; fatal: boolean };

/** A JSON control message to the server; microphone audio goes as binary PCM16 messages. */
export type ClientMessage =
  | { type: "interrupt" }
  | { type: "text"; text: string }
  | { type: "playback"; played_ms: number }
  | { type: "end" };
