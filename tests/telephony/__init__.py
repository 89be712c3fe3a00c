"""Tests of the phone channel (Twilio), against a Twilio simulator."""
