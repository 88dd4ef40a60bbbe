"""Echo: every text and binary message goes straight back. Large limits, for conformance testing."""

from livews import Handler, resource


@resource(
    "/echo", max_message_size=64 * 1024 * 1024, max_frame_size=64 * 1024 * 1024, max_frame_count=100_000
)
class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload)
