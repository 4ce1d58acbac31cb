"""One page type for every list that can grow: the items, how many match in all, and the window asked for."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from pmo.config import get_settings
from pmo.errors import InvalidInput

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A window of a list, newest or first in the list's order."""

    items: list[T]
    total: int = Field(description="rows matching the query in all (the same on every page)")
    limit: int
    offset: int


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int

    def of(self, items: list[T], total: int) -> Page[T]:
        """The page holding items out of total."""
        return Page[T](items=items, total=total, limit=self.limit, offset=self.offset)


def paging(default: int, maximum: int | None = None) -> Any:
    """A dependency reading ?limit=&offset= (at most `maximum`, declared in the document, else the setting
    PMO_PAGE_SIZE_MAX, which an operator may change, so it is checked at run time)."""

    def page_request(
        limit: Annotated[int, Query(ge=1, le=maximum, description="rows per page")] = default,
        offset: Annotated[int, Query(ge=0, le=1_000_000, description="rows to skip")] = 0,
    ) -> PageRequest:
        largest = maximum or get_settings().page_size_max
        if limit > largest:
            raise InvalidInput.at(["query", "limit"], f"limit は {largest} 以下で指定してください。", input=limit)
        return PageRequest(limit, offset)

    return Depends(page_request)


def fetch_page(session: Session, query: Select, page: PageRequest, convert: Callable[[Any], T]) -> Page[T]:
    """Run query (ordered) for one page; convert turns each result row into an item."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.execute(query.limit(page.limit).offset(page.offset))
    return page.of([convert(row) for row in rows], total)
