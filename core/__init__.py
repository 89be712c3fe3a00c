"""The voice agent's core: speech-to-text, LLM answers, language, personalities and history."""
