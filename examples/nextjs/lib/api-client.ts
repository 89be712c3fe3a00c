// The backend's public API over fetch() and WebSocket, typed by lib/api-types.ts.
import type {
  AnswerEvent,
  AnswerRequest,
  Credentials,
  ErrorBody,
  TokenResponse,
  TranscriptionResponse,
} from "./api-types";
import { readEvents } from "./sse";

/** A refusal from the backend: its status and its `detail` in words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function failure(res: Response): Promise<ApiError> {
  let message = `The server answered ${res.status} ${res.statusText}.`;
  try {
    const { detail } = (await res.json()) as ErrorBody;
    message = typeof detail === "string" ? detail : detail.map((error) => error.msg).join("; ");
  } catch {
    // not the backend's JSON error (a proxy's page, say): keep the status line
  }
  return new ApiError(res.status, message);
}

async function send(url: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    // fetch() says no more than "Failed to fetch" for a refused connection or a CORS refusal.
    throw new ApiError(0, `Cannot reach the voice agent at ${new URL(url).origin}.`);
  }
  if (!res.ok) throw await failure(res);
  return res;
}

/** `POST /login`: a JWT for the account. */
export async function login(baseUrl: string, credentials: Credentials): Promise<TokenResponse> {
  const res = await send(`${baseUrl}/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(credentials),
  });
  return (await res.json()) as TokenResponse;
}

/** The routes that need a signed-in user; a 401 from any of them calls `onUnauthorized`. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly onUnauthorized: () => void,
  ) {}

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${this.token}`);
    try {
      return await send(`${this.baseUrl}${path}`, { ...init, headers });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.onUnauthorized();
      throw err;
    }
  }

  /** `POST /upload`: the recording transcribed and stored as the session's next user turn. */
  async upload(
    audio: Blob,
    fileName: string,
    sessionId: string | null,
    signal?: AbortSignal,
  ): Promise<TranscriptionResponse> {
    const form = new FormData();
    form.append("file", audio, fileName);
    if (sessionId) form.append("session_id", sessionId);
    const res = await this.request("/upload", { method: "POST", body: form, signal });
    return (await res.json()) as TranscriptionResponse;
  }

  /** `POST /response` streamed: the answer's events as they arrive. */
  async *answer(body: AnswerRequest, signal?: AbortSignal): AsyncGenerator<AnswerEvent> {
    const res = await this.request("/response", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
    if (!res.body) throw new ApiError(res.status, "The answer came without a body.");
    for await (const { event, data } of readEvents(res.body)) {
      yield { event, data: JSON.parse(data) } as AnswerEvent;
    }
  }

  /** `GET /turns/{id}/audio` (an answer's `audio_url`): the answer spoken, as a WAV file. */
  async speech(audioUrl: string, signal?: AbortSignal): Promise<Blob> {
    const res = await this.request(audioUrl, { signal });
    return res.blob();
  }

  /** The address of `WS /ws/conversation`; a browser WebSocket sends no headers, so the
   * token goes in the query, as docs/realtime.md says. */
  conversationUrl(sampleRate: number, sessionId: string | null): string {
    const url = new URL(`${this.baseUrl}/ws/conversation`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token);
    url.searchParams.set("sample_rate", String(sampleRate));
    if (sessionId) url.searchParams.set("session_id", sessionId);
    return url.toString();
  }
}
