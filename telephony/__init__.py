"""The phone channel: Twilio webhooks and Media Streams over the core's real-time engine."""
