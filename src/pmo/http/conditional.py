"""Conditional requests (RFC 9110 §13) and Cache-Control, for every route that serves or replaces a
versioned representation. Routes parse the headers here; services receive an IfMatch, never header text."""

import hashlib
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Response

from pmo.errors import PreconditionFailed

# A body's own rows: never kept by a shared cache, revalidated by the browser on every use.
ROW_DATA = "private, no-cache"
# Statistics are the same for every caller allowed to read them: any cache may keep them, revalidating.
STATISTICS = "no-cache"


@dataclass(frozen=True)
class EntityTag:
    opaque: str  # with its quotes, as sent in ETag
    weak: bool


def parse_tags(header: str) -> tuple[EntityTag, ...]:
    """The entity tags of an If-Match / If-None-Match list (malformed members are dropped: they match nothing)."""
    tags = []
    for member in header.split(","):
        text = member.strip()
        weak = text.startswith("W/")
        opaque = text[2:] if weak else text
        if len(opaque) >= 2 and opaque[0] == opaque[-1] == '"' and '"' not in opaque[1:-1]:
            tags.append(EntityTag(opaque, weak))
    return tuple(tags)


@dataclass(frozen=True)
class IfMatch:
    """A parsed If-Match: '*' or a list of tags, compared strongly (a weak tag never matches, §13.1.1)."""

    any: bool
    tags: tuple[EntityTag, ...]

    def check(self, current: str, *, exists: bool, message: str) -> None:
        """412 (with the current ETag) unless the current representation matches; '*' needs one to exist."""
        if self.any and exists:
            return
        if not self.any and any(not tag.weak and tag.opaque == current for tag in self.tags):
            return
        raise PreconditionFailed(message, headers={"ETag": current})


def parse_if_match(header: str | None) -> IfMatch | None:
    """An If-Match value (from the header, or the ETag a form carried), None when absent."""
    if header is None:
        return None
    if header.strip() == "*":
        return IfMatch(any=True, tags=())
    return IfMatch(any=False, tags=parse_tags(header))


async def _if_match(  # async: parsing a header is no reason for a worker-thread hop
    if_match: Annotated[
        str | None, Header(alias="If-Match", description="the ETag last read; 412 if the record changed since")
    ] = None,
) -> IfMatch | None:
    return parse_if_match(if_match)


IfMatchDep = Annotated[IfMatch | None, Depends(_if_match)]


IfNoneMatchHeader = Annotated[
    str | None, Header(alias="If-None-Match", description="the ETag of a copy you hold; 304 while it is current")
]


def not_modified(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match value names this representation (weak comparison, §13.1.2)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.opaque == bare for tag in parse_tags(header))


def digest_etag(content: bytes) -> str:
    """A strong ETag naming these exact bytes."""
    return '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"'


def versioned(if_none_match: str | None, content: bytes, etag: str, cache_control: str = ROW_DATA) -> Response:
    """The JSON content with its ETag, or a 304 when the client's copy (If-None-Match) is current."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if not_modified(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)
