"""A turn's decisions, made once for every channel (issue 24): who, which session, which
language and which personality (`TurnContext`)."""
