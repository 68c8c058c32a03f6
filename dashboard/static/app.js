// The Imaginem dashboard: one page, hash routes, the app's own JSON API.
// Every value that came from an image or a user is put in the page as text (textContent), never as HTML.
"use strict";

const API = "/api";
const main = document.getElementById("main");
let pageToken = 0; // bumps on every navigation, so pollers and scrollers of an old page stop

// ---- DOM helpers -------------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.setAttribute("class", value);
    else node.setAttribute(key, String(value));
  }
  return node;
}

function show(...children) {
  main.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

function percent(value) {
  return typeof value === "number" ? ` ${Math.round(value * 100)}%` : "";
}

function jobHref(batch, job) {
  return `#/job/${encodeURIComponent(batch)}/${encodeURIComponent(job)}`;
}

// Only our own image route (a path on this origin) ever becomes an image source.
function ownImage(address) {
  return typeof address === "string" && address.startsWith(API + "/images/") ? address : null;
}

function externalLink(url) {
  return typeof url === "string" && /^https?:\/\//i.test(url)
    ? el("a", { href: url, rel: "noopener noreferrer", target: "_blank", text: url }) : null;
}

async function getJSON(path) {
  const response = await fetch(API + path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function failure(error) {
  return el("p", { class: "error", role: "alert", text: String(error.message || error) });
}

// ---- images with face boxes ---------------------------------------------------------------------------
function photo(address, boxes, { large = false, landmarks = false, alt = "" } = {}) {
  const src = ownImage(address);
  if (!src) return el("div", { class: "no-image", text: "image not in this pipeline's storage" });
  const figure = el("figure", { class: large ? "photo large" : "photo" });
  const img = el("img", { src, alt, loading: "lazy" });
  figure.append(img);
  img.addEventListener("error", () => figure.replaceChildren(el("div", { class: "no-image",
    text: "image unavailable (its blob is gone from this storage account)" })), { once: true });
  img.addEventListener("load", () => {
    const overlay = svg("svg", { viewBox: `0 0 ${img.naturalWidth} ${img.naturalHeight}`,
                                 preserveAspectRatio: "none", "aria-hidden": "true" });
    for (const box of boxes || []) {
      const r = box.rectangle;
      overlay.append(svg("rect", { class: "face-box", x: r.left, y: r.top, width: r.width, height: r.height }));
      if (landmarks) {
        const radius = Math.max(1.5, img.naturalWidth / 250);
        for (const point of Object.values(box.landmarks || {})) {
          overlay.append(svg("circle", { class: "landmark", cx: point.x, cy: point.y, r: radius }));
        }
      }
    }
    figure.append(overlay);
    figure.dataset.boxes = String((boxes || []).length);
  }, { once: true });
  return figure;
}

// ---- Upload -----------------------------------------------------------------------------------------
async function uploadPage() {
  const limits = await getJSON("/uploads");
  const files = [];
  const message = el("p", { class: "error", role: "alert" });
  const previews = el("div", { class: "previews" });
  const pipelineText = el("span", { class: "pipeline" });
  const picker = el("input", { type: "file", multiple: true, accept: "image/*", id: "files" });
  const urls = el("textarea", { id: "urls", placeholder: "https://example.org/photo.jpg (one per line)" });
  const boxes = limits.classifiers.map((name) => el("input", {
    type: "checkbox", value: name, checked: limits.default_pipeline.includes(name) || name === "pipelineoutput",
    disabled: name === "pipelineoutput",
  }));
  const submit = el("button", { type: "button", id: "submit", text: "Process images" });

  function addFiles(list) {
    for (const file of list) {
      files.push(file);
      const url = URL.createObjectURL(file);
      previews.append(el("figure", {}, el("img", { src: url, alt: "" }), el("figcaption", { text: file.name })));
    }
    message.textContent = files.length > limits.max_files
      ? `${files.length} files: at most ${limits.max_files} per upload` : "";
  }

  async function resolve() {
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    try {
      const response = await fetch(API + "/dependencies", { method: "POST", body: JSON.stringify(chosen),
                                                            headers: { "Content-Type": "application/json" } });
      const body = await response.json();
      pipelineText.textContent = response.ok ? body.join(" → ") : body.error;
      return response.ok ? body : null;
    } catch (e) {
      pipelineText.textContent = String(e);
      return null;
    }
  }

  const zone = el("div", { class: "dropzone", id: "dropzone" },
    el("p", {}, "Drop images here, or ", el("label", { for: "files" }, el("b", { text: "choose files" }))),
    picker, previews);
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over");
                                         addFiles(e.dataTransfer.files); });
  picker.addEventListener("change", () => { addFiles(picker.files); picker.value = ""; });
  boxes.forEach((b) => b.addEventListener("change", resolve));

  submit.addEventListener("click", async () => {
    message.textContent = "";
    const pipeline = await resolve();
    if (!pipeline) { message.textContent = "choose the classifiers again"; return; }
    const form = new FormData();
    files.forEach((file) => form.append("files", file, file.name));
    form.append("urls", urls.value);
    form.append("classifiers", pipeline.join(","));
    submit.disabled = true;
    try {
      const response = await fetch(API + "/uploads", { method: "POST", body: form,
                                                       headers: { "X-Imaginem-Upload": "1" } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
      location.hash = `#/batch/${encodeURIComponent(body.batch_id)}`;
    } catch (e) {
      message.textContent = String(e.message || e);
      submit.disabled = false;
    }
  });

  const recent = el("ul", { id: "batches" });
  show(el("h2", { text: "Upload images" }),
       el("div", { class: "panel" }, zone,
          el("p", {}, el("label", { for: "urls", text: "…or paste image URLs" })), urls),
       el("div", { class: "panel classifiers" }, el("p", { text: "Classifiers (their dependencies are added):" }),
          boxes.map((b) => el("label", {}, b, " ", b.value)),
          el("p", {}, "Pipeline: ", pipelineText)),
       el("p", { class: "muted", text: `At most ${limits.max_files} images per upload, ` +
                                         `${Math.round(limits.max_bytes / 1048576)} MiB each.` }),
       submit, message,
       el("h2", { text: "Recent batches" }), recent);
  await resolve();
  try {
    const { batches } = await getJSON("/batches?limit=10");
    recent.replaceChildren(...batches.map((b) => el("li", {},
      el("a", { href: `#/batch/${encodeURIComponent(b.batch_id)}`, text: b.batch_id }),
      ` — ${b.jobs} job(s), last ${b.last}`)));
    if (!batches.length) recent.append(el("li", { class: "muted", text: "none yet" }));
  } catch (e) {
    recent.append(el("li", {}, failure(e)));
  }
}

// ---- Batch ------------------------------------------------------------------------------------------
const OUTCOMES = ["succeeded", "finished with failures", "stopped", "in progress"];
const cssName = (text) => String(text).replace(/[^a-z0-9]+/gi, "-").toLowerCase();

async function batchPage(batchId, token) {
  const counters = el("div", { class: "counters" });
  const bar = el("progress", { max: 1, value: 0 });
  const table = el("div");
  const status = el("p", { class: "muted" });
  show(el("h2", {}, "Batch ", el("span", { text: batchId })), counters, bar, status, table,
       el("p", {}, el("a", { href: `#/results?batch=${encodeURIComponent(batchId)}`, text: "Results of this batch" })));
  while (token === pageToken) {
    let view;
    try {
      view = await getJSON(`/batches/${encodeURIComponent(batchId)}`);
    } catch (e) {
      status.replaceChildren(failure(e));
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (token !== pageToken) return;
    counters.replaceChildren(...OUTCOMES.map((o) => el("div", { class: `counter outcome-${cssName(o)}`,
                                                           "data-outcome": o },
      el("b", { text: view.counts[o] }), o)));
    const finished = view.total - view.counts["in progress"];
    bar.max = Math.max(view.total, 1);
    bar.value = finished;
    status.textContent = view.done ? `done: ${view.total} job(s)` : `${finished} of ${view.total} job(s) done…`;
    status.dataset.done = String(view.done);
    const queues = [];
    view.jobs.forEach((j) => j.steps.forEach((s) => { if (!queues.includes(s.queue)) queues.push(s.queue); }));
    table.replaceChildren(el("table", { id: "jobs" },
      el("thead", {}, el("tr", {}, el("th", { text: "job" }), el("th", { text: "outcome" }),
                         queues.map((q) => el("th", { text: q })), el("th", { text: "failures" }))),
      el("tbody", {}, view.jobs.map((j) => el("tr", { "data-job": j.id },
        el("td", {}, el("a", { href: jobHref(batchId, j.id), text: j.id })),
        el("td", { class: `outcome-${cssName(j.outcome)}`, text: j.outcome }),
        queues.map((q) => {
          const step = j.steps.find((s) => s.queue === q);
          return el("td", { class: step ? `state-${step.state}` : "", text: step ? step.state : "" });
        }),
        el("td", {}, Object.entries(j.exceptions).map(([k, v]) => el("div", { class: "error", text: `${k}: ${v}` }))))))));
    if (view.done) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---- Results ------------------------------------------------------------------------------------------
function chips(items, kind) {
  return el("div", { class: "chips" }, items.map((t) => el("span", { class: `chip ${kind}`,
                                                               text: `${t.name}${percent(t.confidence)}` })));
}

function resultCard(c) {
  const seen = c.faces.flatMap((f) => f.also_seen_in).filter((s) => s.job_id);
  return el("article", { class: "card", "data-job": c.id, "data-batch": c.batch_id },
    photo(c.image, c.boxes, { alt: c.name }),
    el("h3", {}, el("a", { href: jobHref(c.batch_id, c.id), text: c.name || c.id })),
    el("div", { class: "muted" }, el("span", { text: c.batch_id }), " · ", el("span", { text: c.timestamp }),
       c.outcome ? [" · ", el("span", { class: `outcome-${cssName(c.outcome)}`, text: c.outcome })] : null),
    !ownImage(c.image) && c.image_url ? el("div", {}, externalLink(c.image_url)) : null,
    c.faces.length ? el("div", { class: "crops" }, c.faces.map((f) => ownImage(f.crop)
      ? el("img", { src: ownImage(f.crop), alt: "face", class: "crop", "data-face": f.face_id }) : null)) : null,
    c.caption ? el("p", { class: "caption", text: `${c.caption.text}${percent(c.caption.confidence)}` }) : null,
    c.tags.length ? chips(c.tags, "tag") : null,
    c.categories.length ? chips(c.categories, "category") : null,
    c.ocr_text ? el("div", { class: "ocr", text: c.ocr_text }) : null,
    seen.length ? el("p", { class: "seen" }, "Also seen in: ", seen.map((s, i) => [i ? ", " : "",
      el("a", { href: jobHref(s.batch_id, s.job_id), text: s.job_id }), percent(s.confidence)])) : null);
}

function hashQuery() {
  const query = location.hash.split("?")[1] || "";
  return new URLSearchParams(query);
}

async function resultsPage(token) {
  const chosen = hashQuery();
  const labelsSelect = el("select", { multiple: true, id: "label-filter", "aria-label": "labels" });
  const batchSelect = el("select", { multiple: true, id: "batch-filter", "aria-label": "batches" });
  const cards = el("div", { class: "cards", id: "cards" });
  const sentinel = el("div", { class: "sentinel" });
  const more = el("button", { type: "button", class: "secondary", text: "Load more" });
  const status = el("p", { class: "muted" });

  function apply() {
    const query = new URLSearchParams();
    [...labelsSelect.selectedOptions].forEach((o) => query.append("label", o.value));
    [...batchSelect.selectedOptions].forEach((o) => query.append("batch", o.value));
    const person = document.getElementById("person-filter");
    if (person && person.value) query.set("person", person.value);
    location.hash = `#/results?${query}`;
  }
  const clear = el("button", { type: "button", class: "secondary", text: "Clear filters",
                               onclick: () => { location.hash = "#/results"; } });
  show(el("h2", { text: "Results" }),
       el("div", { class: "panel filters" },
          el("label", {}, el("div", { text: "Labels (any of)" }), labelsSelect),
          el("label", {}, el("div", { text: "Batches (any of)" }), batchSelect),
          ImaginemPeople.personFilter(chosen.get("person")),
          el("div", {}, el("button", { type: "button", id: "apply-filter", text: "Filter", onclick: apply }),
             " ", clear)),
       status, cards, sentinel, more);

  const [labels, batches] = await Promise.all([getJSON("/labels"), getJSON("/batches?limit=200")]);
  const wantedLabels = chosen.getAll("label");
  const wantedBatches = chosen.getAll("batch");
  labelsSelect.replaceChildren(...labels.labels.map((l) => el("option", {
    value: l.name, selected: wantedLabels.includes(l.name), text: `${l.kind}: ${l.name} (${l.jobs})` })));
  batchSelect.replaceChildren(...batches.batches.map((b) => el("option", {
    value: b.batch_id, selected: wantedBatches.includes(b.batch_id), text: `${b.batch_id} (${b.jobs})` })));

  let next = 0;
  let loading = false;
  async function load() {
    if (loading || next === null || token !== pageToken) return;
    loading = true;
    const query = new URLSearchParams(chosen);
    query.set("offset", next);
    try {
      const person = chosen.get("person");  // a person's photos come from the face index (people.js)
      const page = await getJSON(person ? `/people/${encodeURIComponent(person)}/results?offset=${next}`
                                        : `/results?${query}`);
      if (token !== pageToken) return;
      cards.append(...page.results.map(resultCard));
      ImaginemPeople.nameFaces(cards);
      next = page.next;
      status.textContent = cards.children.length ? `${cards.children.length} result(s)${next === null ? "" : "…"}`
                                                 : "No finished jobs match.";
      more.hidden = next === null;
    } catch (e) {
      status.replaceChildren(failure(e));
    } finally {
      loading = false;
    }
  }
  more.addEventListener("click", load);
  new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) load(); }).observe(sentinel);
  await load();
}

// ---- Job ----------------------------------------------------------------------------------------------
function pretty(value) {
  if (typeof value === "string") {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; }
  }
  return JSON.stringify(value, null, 2);
}

async function jobPage(batchId, jobId) {
  const view = await getJSON(`/batches/${encodeURIComponent(batchId)}/jobs/${encodeURIComponent(jobId)}`);
  const c = view.card;
  show(el("h2", {}, "Job ", el("span", { text: view.id }), " ",
          el("span", { class: `outcome-${cssName(view.outcome)}`, id: "outcome", text: `(${view.outcome})` })),
       el("p", {}, "Batch ", el("a", { href: `#/batch/${encodeURIComponent(view.batch_id)}`, text: view.batch_id })),
       photo(view.image, view.boxes, { large: true, landmarks: true, alt: view.name }),
       !ownImage(view.image) ? el("p", {}, externalLink(view.image_url)) : null,
       c ? el("div", { class: "panel" },
              c.caption ? el("p", { class: "caption", text: c.caption.text }) : null,
              chips(c.tags, "tag"), chips(c.categories, "category"),
              c.ocr_text ? el("div", { class: "ocr", text: c.ocr_text }) : null) : null,
       c && c.faces.length ? el("div", { class: "panel", id: "job-faces" }, el("h3", { text: "People" }),
         el("div", { class: "crops" }, c.faces.map((f) => ownImage(f.crop)
           ? el("img", { src: ownImage(f.crop), alt: "face", class: "crop", "data-face": f.face_id }) : null))) : null,
       el("h2", { text: "Steps" }),
       el("table", { id: "steps" },
          el("thead", {}, el("tr", {}, ["step", "queue", "state", "output", "exception"].map((h) => el("th", { text: h })))),
          el("tbody", {}, view.steps.map((s) => el("tr", { "data-queue": s.queue },
            el("td", { text: s.step }), el("td", { text: s.queue }),
            el("td", { class: `state-${s.state}`, text: s.state }),
            el("td", {}, s.output === null || s.output === undefined ? "" : el("pre", { text: pretty(s.output) })),
            el("td", { class: s.exception ? "error" : "", text: s.exception || "" }))))),
       el("h2", { text: "pipelinelogs entity" }),
       el("table", { class: "entity", id: "entity" }, el("tbody", {}, Object.entries(view.entity).map(([k, v]) =>
         el("tr", {}, el("th", { text: k }), el("td", {}, el("pre", { text: pretty(v) })))))));
  ImaginemPeople.nameFaces(main);
}

// ---- routing ------------------------------------------------------------------------------------------
async function route() {
  const token = ++pageToken;
  const [path] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  const page = parts[0] || "upload";
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("current", a.dataset.page === page ||
    (page === "person" && a.dataset.page === "people") || (page === "batch" && a.dataset.page === "upload")));
  try {
    if (page === "upload") await uploadPage();
    else if (page === "batch" && parts[1]) await batchPage(parts[1], token);
    else if (page === "results") await resultsPage(token);
    else if (page === "job" && parts[1] && parts[2]) await jobPage(parts[1], parts[2]);
    else if (page === "people") await ImaginemPeople.peoplePage(token);
    else if (page === "person" && parts[1]) await ImaginemPeople.personPage(parts[1], token);
    else show(el("h2", { text: "Not found" }), el("p", {}, el("a", { href: "#/upload", text: "Upload" })));
  } catch (e) {
    if (token === pageToken) show(failure(e));
  }
}

window.addEventListener("hashchange", route);
route();
