"""Telegram text formatting as the Bot API server does it: HTML entity parsing and command detection.

``parse_html`` follows TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp), which is what the
Bot API server runs for ``parse_mode=HTML``: same tag set, same scanning rules, same error strings
(``Unsupported start tag "x" at byte offset N`` ...), UTF-8 byte offsets in errors and UTF-16 offsets
in the produced entities.

One deliberate deviation, switchable with ``strict_ampersand``: real Telegram keeps a ``&`` that does not
start a recognised entity literally ("AT&T" goes through), although the Bot API docs require it to be
escaped.  In strict mode (the default of the fake server) such a ``&`` is rejected, so code that forgets
``html.escape`` fails in tests instead of only when a ``<`` shows up in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EntityParseError",
    "FormattedText",
    "find_bot_commands",
    "parse_html",
    "utf16_len",
]

_SPACES = frozenset(b" \t\r\n\x00\x0b")
_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
# TDLib orders entities covering the same span by type priority (outer formatting first).
_TYPE_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_NAMED_ENTITIES = {b"lt": ord("<"), b"gt": ord(">"), b"amp": ord("&"), b"quot": ord('"')}
_MAX_CODE_POINT = 0x10FFFF
_DIGITS = frozenset(b"0123456789")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_TOKEN_CHARS = _DIGITS | _LETTERS | frozenset(b".-")


class EntityParseError(ValueError):
    """Raised for text Telegram would answer with ``400 Bad Request: can't parse entities: ...``."""


@dataclass
class FormattedText:
    """Plain text plus Bot API ``MessageEntity`` dicts (UTF-16 offsets), sorted like Telegram does."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for entity offsets and length limits."""
    return len(text.encode("utf-16-le")) // 2


def _utf16_units(lead_byte: int) -> int:
    """UTF-16 units contributed by a UTF-8 sequence starting with ``lead_byte`` (0 for continuations)."""
    if lead_byte & 0xC0 == 0x80:
        return 0
    return 2 if lead_byte >= 0xF0 else 1


def _decode_entity(data: bytes, pos: int) -> tuple[int, int] | None:
    """Decode an HTML character reference at ``data[pos] == '&'`` -> (code point, next position)."""
    size = len(data)
    end = pos + 1
    value = 0
    if end < size and data[end] == ord("#"):
        end += 1
        if end < size and data[end] == ord("x"):
            end += 1
            while end < size and data[end] in _HEX_DIGITS:
                value = value * 16 + int(chr(data[end]), 16)
                end += 1
                if value >= _MAX_CODE_POINT:
                    return None
        else:
            while end < size and data[end] in _DIGITS:
                value = value * 10 + data[end] - ord("0")
                end += 1
                if value >= _MAX_CODE_POINT:
                    return None
        if value == 0 or end - pos >= 10:
            return None
    else:
        while end < size and data[end] in _LETTERS:
            end += 1
        named = _NAMED_ENTITIES.get(data[pos + 1 : end])
        if named is None:
            return None
        value = named
    if end < size and data[end] == ord(";"):
        end += 1
    return value, end


def _normalize_url(url: str) -> str | None:
    """Rough stand-in for TDLib's ``LinkManager::check_link``: returns the URL Telegram stores or None."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    lowered = url.lower()
    if lowered.startswith(("tg:", "ton:")):
        return url
    match = re.match(r"^(https?)://([^/?#]+)(.*)$", url, flags=re.IGNORECASE)
    if match is None:
        if "://" in url or not re.match(r"^[\w.-]+\.[A-Za-z]{2,}([/?#:].*)?$", url):
            return None
        match = re.match(r"^(http)://([^/?#]+)(.*)$", "http://" + url)
        assert match is not None
    scheme, host, rest = match.groups()
    if not rest.startswith("/"):
        rest = "/" + rest
    return f"{scheme.lower()}://{host.lower()}{rest}"


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    byte_offset: int


def parse_html(text: str, *, strict_ampersand: bool = True) -> FormattedText:
    """Parse Telegram-flavoured HTML into plain text and entities, or raise :class:`EntityParseError`."""
    data = text.encode("utf-8")
    size = len(data)

    def at(index: int) -> int:
        return data[index] if index < size else 0

    out = bytearray()
    utf16_offset = 0
    open_tags: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < size:
        c = data[i]
        if c == ord("&"):
            decoded = _decode_entity(data, i)
            if decoded is not None:
                code_point, i = decoded
                if 0xD800 <= code_point <= 0xDFFF:
                    raise EntityParseError(
                        "Text contains invalid Unicode characters after decoding HTML entities, "
                        "check for unmatched surrogate code units"
                    )
                out += chr(code_point).encode("utf-8")
                utf16_offset += 2 if code_point > 0xFFFF else 1
                continue
            if strict_ampersand:
                raise EntityParseError(
                    f'Unescaped "&" at byte offset {i}: use &amp; '
                    "(fake server strict mode; real Telegram would keep it literally)"
                )
        if c != ord("<"):
            out.append(c)
            utf16_offset += _utf16_units(c)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != ord("/"):
            # Start tag.
            while at(i) not in _SPACES and at(i) != ord(">"):
                i += 1
            if at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            tag_name = data[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag_name not in _TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag_name}" at byte offset {begin}')
            argument = ""
            while at(i) != ord(">"):
                while at(i) != 0 and at(i) in _SPACES:
                    i += 1
                if at(i) == ord(">"):
                    break
                attribute_begin = i
                while at(i) not in _SPACES and at(i) not in (ord("="), ord(">")):
                    i += 1
                attribute_name = data[attribute_begin:i].decode("utf-8", "replace")
                if not attribute_name:
                    raise EntityParseError(f'Empty attribute name in the tag "{tag_name}" at byte offset {begin}')
                while at(i) != 0 and at(i) in _SPACES:
                    i += 1
                if at(i) != ord("=") and tag_name == "blockquote" and attribute_name == "expandable":
                    argument = "1"  # the one value-less attribute Telegram knows
                    continue
                if at(i) != ord("="):
                    raise EntityParseError(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag_name}" '
                        f"at byte offset {begin}"
                    )
                i += 1
                while at(i) != 0 and at(i) in _SPACES:
                    i += 1
                if at(i) == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag_name}" at byte offset {begin}')
                value = bytearray()
                if at(i) not in (ord("'"), ord('"')):
                    token_begin = i
                    while at(i) in _NAME_TOKEN_CHARS:
                        i += 1
                    value += data[token_begin:i].lower()
                    if at(i) not in _SPACES and at(i) != ord(">"):
                        raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote = at(i)
                    i += 1
                    while at(i) != quote and at(i) != 0:
                        if at(i) == ord("&"):
                            decoded = _decode_entity(data, i)
                            if decoded is not None:
                                value += chr(decoded[0]).encode("utf-8")
                                i = decoded[1]
                                continue
                        value.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                if at(i) == 0:
                    raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
                attribute_value = value.decode("utf-8", "replace")
                if tag_name == "a" and attribute_name == "href":
                    argument = attribute_value
                elif tag_name == "code" and attribute_name == "class" and attribute_value.startswith("language-"):
                    argument = attribute_value[len("language-") :]
                elif tag_name == "span" and attribute_name == "class" and attribute_value.startswith("tg-"):
                    argument = attribute_value[len("tg-") :]
                elif tag_name == "tg-emoji" and attribute_name == "emoji-id":
                    argument = attribute_value
                elif tag_name == "blockquote" and attribute_name == "expandable":
                    argument = "1"
            if tag_name == "span" and argument != "spoiler":
                raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            open_tags.append(_OpenTag(tag_name, argument, utf16_offset, len(out)))
            i += 1  # skip '>'
            continue

        # End tag.
        if not open_tags:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        i += 1
        while at(i) not in _SPACES and at(i) != ord(">"):
            i += 1
        end_tag_name = data[begin + 2 : i].decode("utf-8", "replace")
        while at(i) != 0 and at(i) in _SPACES:
            i += 1
        if at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        i += 1
        tag = open_tags.pop()
        if end_tag_name and end_tag_name != tag.name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag.name}>", found "</{end_tag_name}>"'
            )
        length = utf16_offset - tag.utf16_offset
        if length > 0:
            entity = _make_entity(tag, length, out[tag.byte_offset :].decode("utf-8", "replace"), entities)
            if entity is not None:
                entities.append(entity)

    if open_tags:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"], _TYPE_PRIORITY.get(e["type"], 50)))
    # Drop bookkeeping keys (``_language`` of a code entity that did not merge into a pre).
    cleaned = [{k: v for k, v in entity.items() if not k.startswith("_")} for entity in entities]
    return FormattedText(out.decode("utf-8"), cleaned)


def _make_entity(tag: _OpenTag, length: int, inner_text: str, entities: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Build the entity closed by ``tag``; may instead merge into the previous one (pre + code)."""
    base: dict[str, Any] = {"offset": tag.utf16_offset, "length": length}
    simple = _SIMPLE_ENTITY_TYPES.get(tag.name)
    if simple is not None:
        return {"type": simple, **base}
    if tag.name == "a":
        url = _normalize_url(tag.argument or inner_text)
        if url is None:
            return None
        return {"type": "text_link", **base, "url": url}
    if tag.name == "tg-emoji":
        if not tag.argument.isdigit():
            raise EntityParseError("Invalid custom emoji identifier specified")
        return {"type": "custom_emoji", **base, "custom_emoji_id": tag.argument}
    if tag.name == "blockquote":
        return {"type": "expandable_blockquote" if tag.argument else "blockquote", **base}
    inner = entities[-1] if entities else None
    same_span = inner is not None and inner["offset"] == tag.utf16_offset and inner["length"] == length
    if tag.name == "pre":
        # <pre><code class="language-x">...</code></pre> becomes one pre entity with a language.
        if same_span and inner is not None and inner["type"] == "code" and inner.get("_language"):
            entities.pop()
            return {"type": "pre", **base, "language": inner["_language"]}
        return {"type": "pre", **base}
    if tag.name == "code":
        if same_span and inner is not None and inner["type"] == "pre" and tag.argument:
            inner["language"] = tag.argument
            return None
        entity: dict[str, Any] = {"type": "code", **base}
        if tag.argument:
            entity["_language"] = tag.argument
        return entity
    return None  # pragma: no cover - all tags handled above


_COMMAND_RE = re.compile(r"(?<![\w/<>])/([A-Za-z0-9_]{1,64})(@[A-Za-z0-9_]{3,32})?(?![\w/<>@])")


def find_bot_commands(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities Telegram attaches to incoming text (``/cmd`` and ``/cmd@botname``)."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
        for m in _COMMAND_RE.finditer(text)
    ]
