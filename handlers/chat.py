"""Chat: connect to /chat?name=you; joins, leaves and messages go to everyone else in the room."""

from livews import Handler, broadcast, resource


@resource("/chat")
class Chat(Handler):
    def on_open(self) -> None:
        self.name = self.client.query_params.get("name") or f"guest-{self.client.port}"
        broadcast(self.others(), f"* {self.name} joined")

    def on_text(self, message: str) -> None:
        broadcast(self.others(), f"{self.name}: {message}")

    def on_close(self, code: int, reason: str) -> None:
        broadcast(self.others(), f"* {self.name} left")
