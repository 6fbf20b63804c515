"""The command palette lists the same actions as the keys (and the `:` command line)."""

from __future__ import annotations

from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.keys import ALL_KEYS, KeyAction
from tui.screens.help_screen import key_text


class JobdeckCommands(Provider):
    """Every key's action, runnable from ctrl+p on the screen where it applies."""

    def _available(self) -> list[KeyAction]:
        """One entry per action of the screen: the screen's own key where two screens share an
        action's name (cancel, logs, filter ...)."""
        screen = self.screen
        own = {b.id for b in screen.BINDINGS if isinstance(b, Binding)}
        chosen: dict[str, KeyAction] = {}
        for k in ALL_KEYS:
            shown = k.id.startswith("app.") or hasattr(screen, f"action_{k.action}")
            if shown and (k.action not in chosen or k.id in own):
                chosen[k.action] = k
        return list(chosen.values())

    async def _run(self, key: KeyAction) -> None:
        """App keys (help, quit, sessions, :) are the app's actions, the others the screen's."""
        await self.screen.run_action(f"app.{key.action}" if key.id.startswith("app.") else key.action)

    def _label(self, key: KeyAction) -> str:
        keymap = dict(getattr(self.app, "_keymap", {}))
        return f"{key.command_name}  ({key_text(keymap, key.id, key.key)})"

    async def discover(self) -> Hits:
        for key in self._available():
            yield DiscoveryHit(self._label(key), partial(self._run, key), help=key.description)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for key in self._available():
            text = f"{key.command_name} {key.description}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(self._label(key)), partial(self._run, key), help=key.description
                )
