//! Gateways that bring customers in: webchat over HTTP+WebSocket and a REST/webhook API.
