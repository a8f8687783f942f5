"""The chat engine: the router (global words → open step → nlp.classify → handler), conversations
as state machines kept in the shared store, and the clarifying question. It knows no handler: the
app factory builds the router from `handlers`."""
