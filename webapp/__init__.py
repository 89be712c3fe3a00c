"""The web adapters: the REST API (and later the Gradio UI) over the core agent."""
