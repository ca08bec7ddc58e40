// Fills the three result columns of /search/ui. Every value from the API or the user is
// written with textContent, never parsed as HTML, so product text and queries stay inert.
"use strict";

const MODES = ["knn", "text", "hybrid"];

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderItem(product) {
  const li = el("li");
  li.dataset.productId = String(product.id);
  li.appendChild(el("span", "title", product.title));
  const stock = product.stock > 0 ? `${product.stock} in stock` : "out of stock";
  const meta = `$${product.price.toFixed(2)} · ${product.category} · ${stock}` +
    ` · score ${product.score.toFixed(3)}`;
  li.appendChild(el("span", product.stock > 0 ? "meta" : "meta out", meta));
  return li;
}

function showError(body) {
  const detail = body && Array.isArray(body.detail) ? body.detail[0].msg : "search failed";
  document.getElementById("status").textContent = detail;
}

async function runSearch(event) {
  event.preventDefault();
  const params = new URLSearchParams();
  params.set("q", document.getElementById("q").value);
  params.set("k", document.getElementById("k").value || "10");
  const category = document.getElementById("category").value.trim();
  if (category) params.set("category", category);
  const maxPrice = document.getElementById("max_price").value;
  if (maxPrice) params.set("max_price", maxPrice);
  if (document.getElementById("in_stock").checked) params.set("in_stock", "true");
  document.getElementById("status").textContent = "";
  await Promise.all(MODES.map(async (mode) => {
    const list = document.getElementById(`results-${mode}`);
    list.replaceChildren();
    params.set("mode", mode);
    const response = await fetch(`/search?${params.toString()}`);
    const body = await response.json();
    if (!response.ok) {
      showError(body);
      return;
    }
    if (body.results.length === 0) list.appendChild(el("li", "meta", "no results"));
    body.results.forEach((p) => list.appendChild(renderItem(p)));
  }));
}

document.getElementById("search-form").addEventListener("submit", runSearch);
