"use client";

import { useCallback, useEffect, useMemo, useState } from "react";

import { HandsFree } from "@/components/HandsFree";
import { PushToTalk } from "@/components/PushToTalk";
import { SignIn } from "@/components/SignIn";
import { ApiClient } from "@/lib/api-client";

// The token lives in this component's memory only: nothing a script could read later, and a
// reload signs out.
type Account = { token: string; username: string; expiresAt: number };

const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout fires at once past this

/** The signed-in app: both ways of talking to the agent, in one conversation (session). */
export function VoiceAgent({ apiUrl }: { apiUrl: string }) {
  const [account, setAccount] = useState<Account | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [sessionId, setSessionId] = useState<string | null>(null);

  const signOut = useCallback((why: string | null) => {
    setAccount(null);
    setSessionId(null);
    setNotice(why);
  }, []);

  const client = useMemo(
    () =>
      account &&
      new ApiClient(apiUrl, account.token, () =>
        signOut("Your sign-in is no longer valid: sign in again."),
      ),
    [apiUrl, account, signOut],
  );

  // The token stops working at its expiry: sign out then, rather than at the next refusal.
  useEffect(() => {
    if (!account) return;
    const wait = Math.min(account.expiresAt - Date.now(), MAX_TIMER_MS);
    const timer = setTimeout(() => signOut("Your sign-in expired: sign in again."), wait);
    return () => clearTimeout(timer);
  }, [account, signOut]);

  if (!account || !client) {
    return (
      <SignIn
        apiUrl={apiUrl}
        notice={notice}
        onSignedIn={(token, username) => {
          setNotice(null);
          setAccount({
            token: token.token,
            username,
            expiresAt: Date.now() + token.expires_in * 1000,
          });
        }}
      />
    );
  }
  return (
    <main>
      <header className="bar">
        <h1>Voice Agent</h1>
        <span className="muted">
          Signed in as <b id="account">{account.username}</b>
        </span>
        <button
          className="secondary"
          onClick={() => setSessionId(null)}
          disabled={sessionId === null}
          title="The next question starts a new session: the agent forgets this conversation."
        >
          New conversation
        </button>
        <button id="signout" className="secondary" onClick={() => signOut(null)}>
          Sign out
        </button>
      </header>
      <PushToTalk client={client} sessionId={sessionId} onSession={setSessionId} />
      <HandsFree client={client} sessionId={sessionId} onSession={setSessionId} />
    </main>
  );
}
