"""The phone adapter (Twilio); arrives with the telephony issue."""
