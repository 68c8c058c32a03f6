"""Read an ODBC connection string: its attributes, where it points, and what must never be shown."""

from __future__ import annotations

__all__ = ["ConnectionString"]

_SECRET_KEYS = ("pwd", "password", "accesstoken", "authentication_key")


class ConnectionString:
    """An ODBC ``key=value;`` string; values may be ``{braced; with ;}}``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.attributes = _parse(text)

    def get(self, *keys: str) -> str:
        for key in keys:
            value = self.attributes.get(key.lower())
            if value:
                return value
        return ""

    @property
    def driver(self) -> str:
        return self.get("driver")

    @property
    def target(self) -> str:
        """Where it points (server, port, database), for messages; never the password."""
        server = self.get("server", "servername", "host", "address", "addr")
        port = self.get("port")
        database = self.get("database", "dbname", "initial catalog")
        where = server + (f":{port}" if port and ":" not in server and "," not in server else "")
        if where and database:
            return f"{where}/{database}"
        return where or database or "(no server named)"

    def redact(self, message: str) -> str:
        """The message with every secret value of this connection string replaced by ***."""
        for key in _SECRET_KEYS:
            secret = self.attributes.get(key)
            if secret:
                message = message.replace(secret, "***")
        return message


def _parse(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip().lower()
        i = eq + 1
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == "{":
            value, i = _braced(text, i + 1)
            semi = text.find(";", i)
            i = n if semi < 0 else semi + 1
        else:
            semi = text.find(";", i)
            end = n if semi < 0 else semi
            value = text[i:end].strip()
            i = end + 1
        if key:
            attributes[key] = value
    return attributes


def _braced(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "}":
            if i + 1 < n and text[i + 1] == "}":
                out.append("}")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), i
