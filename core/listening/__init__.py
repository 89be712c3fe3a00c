"""The models that listen to a live conversation, beside the other model loaders (`core.stt`,
`core.llm`, `core.tts`): Silero's voice activity detector (`vad`) and Smart Turn's end-of-turn
model (`smart_turn`). The turn-taking in `core.realtime` uses them; they know nothing of it,
so the providers that load them sit below `core.realtime`, not above it."""
