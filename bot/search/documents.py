"""What gets indexed for a product, and the SQL form of :class:`SearchFilters`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from bot.search.types import SearchFilters
from bot.store.models import Product

PRODUCT_COLUMNS = (
    Product.id,
    Product.title,
    Product.description,
    Product.category,
    Product.brand,
    Product.tags,
)


@dataclass(frozen=True)
class ProductDoc:
    """The searchable fields of one product.

    Attributes:
        id: ``products.id``.
        title, description, brand: catalogue text (``brand`` may be empty).
        category: category words, slug dashes turned into spaces (``"womens dresses"``).
        tags: tag words joined by spaces.
    """

    id: int
    title: str
    description: str
    category: str
    brand: str
    tags: str

    @property
    def text(self) -> str:
        """The passage embedded for k-NN search: title, category, brand, tags, description."""
        parts = [self.title, self.category, self.brand, self.tags, self.description]
        return ". ".join(p for p in parts if p)

    def digest(self, model: str) -> int:
        """64-bit fingerprint of ``model`` and :attr:`text` (signed, fits ``int64``); when it
        changes, the stored vector is stale."""
        raw = hashlib.blake2b(f"{model}\n{self.text}".encode(), digest_size=8).digest()
        return int.from_bytes(raw, "little", signed=True)


def load_docs(conn: Connection, ids: Iterable[int] | None = None) -> list[ProductDoc]:
    """Read products as :class:`ProductDoc`, ordered by id.

    Args:
        conn: open connection to the shop database.
        ids: only these product ids; ``None`` reads the whole catalogue.

    Returns:
        One document per existing product (missing ids are skipped).
    """
    stmt = select(*PRODUCT_COLUMNS).order_by(Product.id)
    if ids is not None:
        stmt = stmt.where(Product.id.in_(list(ids)))
    docs = []
    for pid, title, description, category, brand, tags in conn.execute(stmt):
        docs.append(
            ProductDoc(
                id=pid,
                title=title or "",
                description=description or "",
                category=(category or "").replace("-", " "),
                brand=brand or "",
                tags=" ".join(str(t) for t in (tags or [])),
            )
        )
    return docs


def filter_clauses(filters: SearchFilters) -> list[ColumnElement]:
    """SQLAlchemy conditions on :class:`~bot.store.models.Product` for ``filters``.

    Returns:
        Conditions to AND together; empty when no filter is active.
    """
    clauses: list[ColumnElement] = []
    if filters.categories:
        clauses.append(Product.category.in_(list(filters.categories)))
    if filters.max_price is not None:
        clauses.append(Product.price <= filters.max_price)
    if filters.in_stock:
        clauses.append(Product.stock > 0)
    return clauses


def matching_ids(conn: Connection, filters: SearchFilters) -> list[int]:
    """Ids of the products that pass ``filters`` (every product when none is active)."""
    stmt = select(Product.id).where(*filter_clauses(filters))
    return list(conn.execute(stmt).scalars())


def product_rows(conn: Connection, ids: Sequence[int]) -> dict[int, Row]:
    """The catalogue rows for ``ids`` as ``{id: row}``; a row has ``id, title, category,
    brand, price, stock``."""
    if not ids:
        return {}
    stmt = select(
        Product.id, Product.title, Product.category, Product.brand, Product.price, Product.stock
    ).where(Product.id.in_(list(ids)))
    return {row.id: row for row in conn.execute(stmt)}


def categories(conn: Connection) -> list[str]:
    """Every distinct category slug in the catalogue, sorted."""
    stmt = select(Product.category).distinct().order_by(Product.category)
    return list(conn.execute(stmt).scalars())
