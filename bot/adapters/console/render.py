"""Plain-text renderings for the terminal. Each returns (text, style) lines; the style is a
rich colour name or "" and only applies where the terminal supports colour."""

from __future__ import annotations

from pathlib import Path

from bot.core.describe import AlertDescriber, sections
from bot.core.messages import Alert, AlertKind, Image, Reply, Tone
from bot.core.models import ChatRef

STYLE = {
    Tone.NEUTRAL: "bold",
    Tone.UP: "bold green",
    Tone.DOWN: "bold red",
    Tone.WARNING: "bold yellow",
    Tone.ERROR: "bold red",
}
MARK = {Tone.NEUTRAL: "", Tone.UP: "▲ ", Tone.DOWN: "▼ ", Tone.WARNING: "! ", Tone.ERROR: "✗ "}

Line = tuple[str, str]


def render_reply(reply: Reply, *, image_path: Path | str | None = None) -> list[Line]:
    """The reply as lines; `image_path` is where its image was saved, if it was."""
    lines: list[Line] = [(MARK[reply.tone] + reply.title, STYLE[reply.tone])]
    lines.extend(("  " + line, "") for line in reply.lines)
    lines.extend((f"  {field.name}: {field.value}", "") for field in reply.fields)
    if reply.image is not None:
        saved = f", saved to {image_path}" if image_path is not None else ""
        lines.append((f"  [chart: {reply.image.description or reply.image.filename}{saved}]", "dim"))
    if reply.actions:
        lines.append(("  " + "   ".join(f"[{a.label}: /{' '.join((a.command, *a.args))}]" for a in reply.actions), "dim"))
    if reply.footer:
        lines.append(("  " + reply.footer, "dim"))
    return lines


def render_alert(alert: Alert, describer: AlertDescriber, chat: ChatRef | None = None) -> list[Line]:
    """One message: an alert, or a check's alerts for the chat grouped by part, each with its actions."""
    if alert.kind is not AlertKind.GROUP:
        return _one_alert(alert, describer, footer=True)
    lines: list[Line] = [(f"🔔 {describer.group_title(alert)}", "bold")]
    for title, alerts in sections(alert):
        lines.append((f"  ── {title}", "bold cyan"))
        for item in alerts:
            lines.extend(("  " + text, style) for text, style in _one_alert(item, describer, footer=False))
    return lines


def _one_alert(alert: Alert, describer: AlertDescriber, *, footer: bool) -> list[Line]:
    text = describer.describe(alert)
    who = f" @{alert.mention.label}" if alert.mention else ""
    mark = "🔔 " if footer else "• "
    lines: list[Line] = [(f"{mark}{MARK[text.tone]}{text.title}{who}", STYLE[text.tone])]
    lines.extend(("  " + line, "") for line in text.lines)
    actions = describer.actions(alert)
    if actions:
        lines.append(("  " + "   ".join(f"[{a.label}: /{' '.join((a.command, *a.args))}]" for a in actions), "dim"))
    if footer:
        lines.append(("  " + text.footer, "dim"))
    return lines


def save_image(image: Image, folder: Path | str) -> Path:
    """Write a reply's image (a chart PNG) into `folder`, created if needed; returns its path."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    path = target / Path(image.filename).name
    path.write_bytes(image.data)
    return path


def as_text(lines: list[Line]) -> str:
    return "\n".join(text for text, _ in lines)
