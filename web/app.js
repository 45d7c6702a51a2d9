// atelier's web page: analyse a photo, draw its garments, search the catalog, browse it.
// Plain JavaScript against the v1 API; every failure is shown in the page.
"use strict";

const COLORS = ["#e4572e", "#1f9e89", "#3a6fd8", "#d9a400", "#9c4fd6", "#d6457f", "#4f9d2d"];
const SIMILAR_K = 12;
const PAGE_SIZE = 24;

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";

// el builds an element with attributes and children; text is always set as text, never HTML.
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "style") for (const [p, pv] of Object.entries(v)) e.style.setProperty(p, pv);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

class ApiError extends Error {
  constructor(message, code, status, retryAfter) {
    super(message);
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// api calls the server and turns any non-2xx answer into an ApiError with the server's message.
async function api(path, opts = {}) {
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new ApiError("The server cannot be reached (" + e.message + ").", "network", 0);
  }
  const isJSON = (resp.headers.get("Content-Type") || "").includes("application/json");
  const body = isJSON ? await resp.json().catch(() => null) : null;
  if (!resp.ok) {
    const msg = (body && body.error) || `${resp.status} ${resp.statusText}`;
    throw new ApiError(msg, body && body.code, resp.status, resp.headers.get("Retry-After"));
  }
  return body;
}

// Errors --------------------------------------------------------------------------------------

function showError(err) {
  let msg = err instanceof ApiError ? err.message : "Something went wrong: " + err.message;
  if (err instanceof ApiError && err.status === 503 && err.retryAfter) {
    msg += ` Try again in ${err.retryAfter} s.`;
  }
  $("alert-text").textContent = msg;
  $("alert").hidden = false;
}

function clearError() {
  $("alert").hidden = true;
}

window.addEventListener("unhandledrejection", (ev) => showError(ev.reason || new Error("unknown error")));
window.addEventListener("error", (ev) => showError(ev.error || new Error(ev.message)));

// Readiness -----------------------------------------------------------------------------------

async function pollReady() {
  const status = $("status");
  try {
    await api("/readyz");
    status.textContent = "Ready";
    status.dataset.state = "ready";
    return;
  } catch (e) {
    const loading = e.status === 503;
    status.textContent = loading ? "Loading the model and catalog…" : "Server unreachable";
    status.dataset.state = loading ? "loading" : "down";
  }
  setTimeout(pollReady, 2000);
}

// Tabs ----------------------------------------------------------------------------------------

const tabs = [
  { tab: $("tab-analyze"), view: $("view-analyze") },
  { tab: $("tab-catalog"), view: $("view-catalog"), onShow: () => loadCatalog() },
];

function selectTab(i) {
  tabs.forEach((t, j) => {
    const on = i === j;
    t.tab.setAttribute("aria-selected", on);
    t.tab.tabIndex = on ? 0 : -1;
    t.view.hidden = !on;
  });
  if (tabs[i].onShow) tabs[i].onShow();
}

tabs.forEach((t, i) => {
  t.tab.addEventListener("click", () => selectTab(i));
  t.tab.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const j = (i + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length;
    selectTab(j);
    tabs[j].tab.focus();
  });
});

// Analysis ------------------------------------------------------------------------------------

const state = { result: null, selected: -1, photoURL: null };

// knownType passes a garment type the API filters on, and "" (no filter) for anything else.
function knownType(t) {
  return ["upper", "lower", "full"].includes(t) ? t : "";
}

function pct(x) {
  return Math.round(x * 100) + "%";
}

async function analyzeFile(file) {
  clearError();
  if (!file) return;
  if (!/^image\/(jpeg|png|webp)$/.test(file.type)) {
    showError(new ApiError(`“${file.name}” is not a JPEG, PNG or WebP image.`, "unsupported_format", 415));
    return;
  }
  if (state.photoURL) URL.revokeObjectURL(state.photoURL);
  state.photoURL = URL.createObjectURL(file);
  $("photo").src = state.photoURL;
  $("stage").hidden = false;
  document.querySelector(".stage-col").classList.add("has-photo");
  $("canvas").classList.add("busy");
  $("caption").replaceChildren(el("span", { class: "spinner", "aria-hidden": "true" }), " Analysing…");
  $("overlay").replaceChildren();
  $("labels").replaceChildren();
  $("garments").replaceChildren();
  $("similar").replaceChildren();
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const res = await api("/v1/analyze", { method: "POST", body: form });
    state.result = res;
    renderResult(res, file.name);
    if (res.garments.length > 0) selectGarment(0);
  } catch (e) {
    $("caption").textContent = "The photo could not be analysed.";
    showError(e);
  } finally {
    $("canvas").classList.remove("busy");
  }
}

function renderResult(res, name) {
  const overlay = $("overlay");
  overlay.setAttribute("viewBox", `0 0 ${res.width} ${res.height}`);
  overlay.setAttribute("preserveAspectRatio", "none");
  const r = Math.max(res.width, res.height) / 140;
  const labels = $("labels");
  const list = $("garments");
  res.garments.forEach((g, i) => {
    const c = COLORS[i % COLORS.length];
    const [x1, y1, x2, y2] = g.box;
    const rect = svg("rect", { class: "box", x: x1, y: y1, width: x2 - x1, height: y2 - y1, stroke: c, "data-i": i });
    rect.addEventListener("click", () => selectGarment(i));
    overlay.append(rect);
    for (const lm of g.landmarks || []) {
      const dot = svg("circle", { class: "lm" + (lm.visible ? "" : " hidden-lm"), cx: lm.x, cy: lm.y, r, fill: c, "data-i": i });
      dot.append(svg("title", {}));
      dot.firstChild.textContent = lm.name;
      overlay.append(dot);
    }
    labels.append(el("span", {
      class: "box-label", "data-i": i,
      style: { left: (100 * x1 / res.width) + "%", top: (100 * y1 / res.height) + "%", background: c },
      text: `${g.category.name} ${pct(g.category.score)}`,
    }));
    list.append(el("li", {}, garmentCard(g, i, c)));
  });
  $("garments-empty").hidden = res.garments.length > 0;
  if (res.garments.length === 0) {
    $("garments-empty").textContent = "No garment was found in this photo.";
  }
  const t = res.timings_ms || {};
  const total = Object.values(t).reduce((a, b) => a + b, 0);
  const n = res.garments.length;
  $("caption").textContent = `${name} · ${res.width}×${res.height} · ${n} garment${n === 1 ? "" : "s"} · analysed in ${Math.round(total)} ms` +
    (n > 0 ? " · dots are landmarks, hollow when hidden" : "");
}

function garmentCard(g, i, c) {
  const attrs = (g.attributes || []).slice().sort((a, b) => b.score - a.score).slice(0, 5);
  const alts = (g.category.top5 || []).slice(1, 4).map((s) => `${s.name} ${pct(s.score)}`).join(" · ");
  return el("button", {
    type: "button", class: "garment", "aria-pressed": "false", "data-i": i,
    style: { "--c": c }, onclick: () => selectGarment(i),
  },
    el("span", { class: "garment-head" },
      el("span", { class: "garment-name", text: g.category.name }),
      el("span", { class: "garment-type", text: `${g.type} · detected ${pct(g.score)}` })),
    attrs.length
      ? el("ul", { class: "chips", "aria-label": "Top attributes" },
        ...attrs.map((a) => el("li", { class: "chip" }, el("b", { text: a.name }), ` ${a.type} ${pct(a.score)}`)))
      : el("span", { class: "alt-cats", text: "No attribute above threshold" }),
    alts ? el("span", { class: "alt-cats", text: "Also likely: " + alts }) : null);
}

async function selectGarment(i) {
  state.selected = i;
  document.querySelectorAll(".garment").forEach((b) => b.setAttribute("aria-pressed", String(+b.dataset.i === i)));
  document.querySelectorAll("#overlay [data-i]").forEach((n) => {
    n.classList.toggle("selected", +n.dataset.i === i);
    n.classList.toggle("dim", +n.dataset.i !== i);
  });
  const g = state.result.garments[i];
  const list = $("similar");
  $("similar-title").textContent = `Similar to the ${g.category.name.toLowerCase()}`;
  if (!g.embedding || g.embedding.length === 0) {
    list.replaceChildren();
    $("similar-empty").hidden = false;
    $("similar-empty").textContent = "This garment has no embedding to search with.";
    return;
  }
  $("similar-empty").hidden = false;
  $("similar-empty").replaceChildren(el("span", { class: "spinner", "aria-hidden": "true" }), " Searching the catalog…");
  try {
    const res = await api("/v1/search", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ embedding: g.embedding, k: SIMILAR_K, category_type: knownType(g.type) }),
    });
    if (state.selected !== i) return; // another garment was picked meanwhile
    renderItems(list, res.results[0].matches);
    $("similar-empty").hidden = res.results[0].matches.length > 0;
    $("similar-empty").textContent = "The catalog has no item of this type yet.";
  } catch (e) {
    $("similar-empty").textContent = "The search failed.";
    showError(e);
  }
}

// Items ---------------------------------------------------------------------------------------

function itemCard(it, onPick) {
  const thumb = el("span", { class: "thumb" });
  if (it.image_url) {
    const img = el("img", { src: it.image_url, alt: it.name || it.id, loading: "lazy" });
    img.addEventListener("error", () => thumb.replaceChildren(el("span", { "aria-hidden": "true", text: "?" })));
    thumb.append(img);
  } else {
    thumb.append(el("span", { "aria-hidden": "true", text: (it.category || it.id).slice(0, 1) }));
  }
  const body = el("span", { class: "item-body" },
    el("span", { class: "item-name", title: it.name || it.id, text: it.name || it.id }),
    el("span", { class: "item-meta", text: [it.category, it.type].filter(Boolean).join(" · ") }));
  if (typeof it.score === "number") {
    const s = Math.max(0, Math.min(1, it.score));
    body.append(el("span", { class: "score", "aria-label": `similarity ${it.score.toFixed(3)}` },
      el("span", { class: "bar", "aria-hidden": "true" }, el("i", { style: { width: pct(s) } })),
      el("span", { class: "score-value", text: it.score.toFixed(3) })));
  }
  const content = onPick
    ? el("button", { type: "button", onclick: () => onPick(it), "aria-label": `Show items similar to ${it.name || it.id}` }, thumb, body)
    : el("div", {}, thumb, body);
  return el("li", { class: "item", "data-id": it.id }, content);
}

function renderItems(list, items, onPick) {
  list.replaceChildren(...items.map((it) => itemCard(it, onPick)));
}

// Catalog -------------------------------------------------------------------------------------

const catalog = { offset: 0, type: "" };

async function loadCatalog() {
  clearError();
  const q = new URLSearchParams({ offset: catalog.offset, limit: PAGE_SIZE });
  if (catalog.type) q.set("type", catalog.type);
  try {
    const res = await api("/v1/items?" + q);
    renderItems($("catalog"), res.items, showCatalogSimilar);
    const page = Math.floor(res.offset / res.limit) + 1;
    const pages = res.total !== undefined ? Math.max(1, Math.ceil(res.total / res.limit)) : null;
    $("page").textContent = pages ? `Page ${page} of ${pages}` : `Page ${page}`;
    $("catalog-count").textContent = res.total !== undefined ? `· ${res.total} items` : "";
    $("prev").disabled = res.offset === 0;
    $("next").disabled = !res.has_more;
    if (res.items.length === 0) {
      $("catalog").replaceChildren(el("li", { class: "muted", text: "No items here yet." }));
    }
  } catch (e) {
    showError(e);
  }
}

async function showCatalogSimilar(it) {
  clearError();
  $("catalog-similar-name").textContent = it.name || it.id;
  $("catalog-similar-section").hidden = false;
  try {
    const res = await api("/v1/search", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ item_id: it.id, k: SIMILAR_K, category_type: knownType(it.type) }),
    });
    renderItems($("catalog-similar"), res.results[0].matches);
    $("catalog-similar-section").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (e) {
    showError(e);
  }
}

$("prev").addEventListener("click", () => { catalog.offset = Math.max(0, catalog.offset - PAGE_SIZE); loadCatalog(); });
$("next").addEventListener("click", () => { catalog.offset += PAGE_SIZE; loadCatalog(); });
$("catalog-type").addEventListener("change", (ev) => { catalog.type = ev.target.value; catalog.offset = 0; loadCatalog(); });

// Photo input ---------------------------------------------------------------------------------

$("file").addEventListener("change", (ev) => analyzeFile(ev.target.files[0]));
const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  analyzeFile(ev.dataTransfer.files[0]);
});
$("alert-close").addEventListener("click", clearError);

pollReady();
