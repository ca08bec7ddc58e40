"""``GET /search`` over real HTTP (TestClient), including replay R14, and the /search/ui
page in headless Chromium (product text rendered inert)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.api.routes.search import API_MAX_K, STATIC, router
from bot.search import get_service
from bot.store.db import session_scope
from bot.store.models import Product
from tests.live_http import serve


def search_app() -> FastAPI:
    """The search router alone, as ``bot.api.app.create_app`` mounts it."""
    app = FastAPI()
    app.include_router(router)
    return app


@pytest.fixture
def client(shop_url: str) -> TestClient:
    return TestClient(search_app())


@pytest.mark.parametrize(
    "query",
    ["q=", "q=%20%20", "q=%00", "q=phone%00", "q=%0A%09", "", "q=%F0%9F%99%8F", "q=" + "a" * 600],
    ids=["empty", "spaces", "nul", "nul-inside", "newline-tab", "missing", "emoji", "too-long"],
)
@pytest.mark.parametrize("mode", ["knn", "text", "hybrid"])
def test_r14_unsearchable_queries_get_422(client: TestClient, query: str, mode: str):
    response = client.get(f"/search?{query}&mode={mode}")
    assert response.status_code == 422
    assert "results" not in response.json()


@pytest.mark.parametrize(
    "params",
    [
        "k=0",
        "k=-3",
        "k=abc",
        "mode=vector",
        "max_price=-1",
        "max_price=nan",
        "max_price=inf",
        "in_stock=maybe",
    ],
)
def test_bad_parameters_get_422(client: TestClient, params: str):
    assert client.get(f"/search?q=phone&{params}").status_code == 422


def test_huge_k_is_capped_without_duplicates_or_placeholders(client: TestClient):
    body = client.get("/search?q=phone&k=1000000000000&mode=knn").json()
    assert body["k"] == API_MAX_K
    ids = [r["id"] for r in body["results"]]
    assert len(ids) == API_MAX_K == len(set(ids))
    assert min(ids) > 0


@pytest.mark.parametrize("mode", ["knn", "hybrid"])
def test_k_above_matching_products_returns_each_once(client: TestClient, mode: str):
    body = client.get(f"/search?q=computer&k=50&mode={mode}&category=laptops").json()
    assert sorted(r["id"] for r in body["results"]) == [78, 79, 80, 81, 82]


def test_filters_and_result_shape(client: TestClient):
    response = client.get(
        "/search",
        params={
            "q": " wedding dress ",
            "k": 5,
            "category": ["womens-dresses", "tops"],
            "max_price": 50,
            "in_stock": "true",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "wedding dress" and body["mode"] == "hybrid"
    assert 0 < len(body["results"]) <= 5
    for r in body["results"]:
        assert set(r) == {"id", "title", "category", "brand", "price", "stock", "score", "rank"}
        assert r["category"] in {"womens-dresses", "tops"}
        assert r["price"] <= 50 and r["stock"] > 0


def test_ui_page_and_script(client: TestClient):
    page = client.get("/search/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in page.headers
    assert '<script src="/search/ui/search.js">' in page.text
    script = client.get("/search/ui/search.js")
    assert script.status_code == 200 and "textContent" in script.text
    assert "innerHTML" not in (STATIC / "search.js").read_text()


@pytest.fixture
def live_server(shop_url: str) -> str:
    get_service()  # load model and index before the browser's first request
    with serve(search_app()) as url:
        yield url


def test_page_shows_knn_and_text_side_by_side_and_escapes(shop_url: str, live_server: str):
    from playwright.sync_api import sync_playwright

    hostile = '<img src=x onerror="window.__xss=1">Velvet Bridal Gown'
    with session_scope(shop_url) as s:
        s.add(
            Product(
                id=3000,
                title=hostile,
                description="<script>window.__xss=2</script>",
                category="womens-dresses",
                price=Decimal("75"),
                stock=4,
                tags=[],
            )
        )
    get_service().index_products([3000])

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.goto(f"{live_server}/search/ui")
        page.fill("#q", "velvet bridal gown")
        page.click("button[type=submit]")
        for mode in ("knn", "text", "hybrid"):
            page.wait_for_selector(f"#results-{mode} li[data-product-id='3000']", timeout=20_000)
        first_knn = page.inner_text("#results-knn li:first-child .title")
        first_text = page.inner_text("#results-text li:first-child .title")
        meta = page.inner_text("#results-knn li:first-child .meta")
        images = page.locator("#columns img").count()
        xss = page.evaluate("window.__xss")
        page.fill("#q", "   ")
        page.click("button[type=submit]")
        browser.close()
    assert first_knn == hostile and first_text == hostile
    assert "$75.00" in meta and "womens-dresses" in meta and "4 in stock" in meta
    assert images == 0 and xss is None
