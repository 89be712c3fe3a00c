"""Real-time conversation: streaming audio in, VAD turn-taking, spoken answers out."""
