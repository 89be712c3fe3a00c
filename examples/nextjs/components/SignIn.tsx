"use client";

import { type FormEvent, useState } from "react";

import { login } from "@/lib/api-client";
import type { TokenResponse } from "@/lib/api-types";

type Props = {
  apiUrl: string;
  /** Why the last session ended (an expired token, say), if it did not end by choice. */
  notice: string | null;
  onSignedIn: (token: TokenResponse, username: string) => void;
};

/** `POST /login` with a username and password. */
export function SignIn({ apiUrl, notice, onSignedIn }: Props) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const username = String(form.get("username"));
    setBusy(true);
    setError(null);
    try {
      onSignedIn(
        await login(apiUrl, { username, password: String(form.get("password")) }),
        username,
      );
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <h1>Voice Agent</h1>
      <p className="muted">
        Sign in to the voice agent at <code>{apiUrl}</code>.
      </p>
      {notice && <p className="notice">{notice}</p>}
      <form onSubmit={submit}>
        <label>
          Username
          <input id="username" name="username" autoComplete="username" required maxLength={64} />
        </label>
        <label>
          Password
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            maxLength={1024}
          />
        </label>
        <button id="signin" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
