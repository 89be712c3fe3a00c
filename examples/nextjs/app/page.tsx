import { connection } from "next/server";

import { VoiceAgent } from "@/components/VoiceAgent";

const DEFAULT_API_URL = "http://127.0.0.1:8000";

export default async function Home() {
  // Rendered for each request, so the backend's address is read from the environment of the
  // running server (`next start`), not fixed when the app was built.
  await connection();
  const apiUrl = (process.env.NEXT_PUBLIC_API_URL || DEFAULT_API_URL).replace(/\/+$/, "");
  return <VoiceAgent apiUrl={apiUrl} />;
}
