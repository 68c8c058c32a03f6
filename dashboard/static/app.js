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

// A local, readable time; the exact ISO value stays in the title (hover) and the datetime attribute.
function when(iso) {
  if (typeof iso !== "string" || !iso) return el("span", { class: "muted", text: "—" });
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return el("span", { text: iso });
  const sameDay = date.toDateString() === new Date().toDateString();
  const text = date.toLocaleString(undefined, sameDay ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
    : { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return el("time", { datetime: iso, title: iso, text });
}

// Taxonomy names end or join with underscores (drink_, people_portrait): shown as words.
function categoryText(name) {
  const words = String(name).replace(/_+/g, " ").trim();
  return words || String(name);
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
// Why an image of ours did not show: its blob is gone (404), or it is there but not a picture the browser draws.
async function unavailable(src) {
  try {
    const response = await fetch(src, { headers: { Accept: "image/*" } });
    if (response.status === 404) return "The image is gone from this storage account.";
    if (response.status === 415) return "The file is there but is not an image.";
    if (response.status === 413) return "The image is too large to show here.";
    if (!response.ok) return `The image could not be read (${response.status} ${response.statusText}).`;
  } catch {
    return "The image could not be read (the server did not answer).";
  }
  return "The file is there but is not an image this browser can show.";
}

function photo(address, boxes, { large = false, landmarks = false, alt = "" } = {}) {
  const src = ownImage(address);
  if (!src) return el("div", { class: "no-image", text: "The image is not in this pipeline's storage." });
  const figure = el("figure", { class: large ? "photo large" : "photo" });
  const img = el("img", { src, alt, loading: "lazy" });
  figure.append(img);
  img.addEventListener("error", () => unavailable(src).then((text) =>
    figure.replaceChildren(el("div", { class: "no-image", text }))), { once: true });
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
    // A person's name under each face box, once known (people.js names them: text only, never HTML).
    for (const box of (boxes || []).filter((b) => b.face_id)) {
      const r = box.rectangle;
      const label = el("span", { class: "box-name", "data-face": box.face_id, hidden: true });
      const nearTop = r.top < img.naturalHeight * 0.08;  // no room above the box: the name goes under it
      label.classList.toggle("below", nearTop);
      label.style.left = `${(100 * r.left) / img.naturalWidth}%`;
      label.style.top = `${(100 * (nearTop ? r.top + r.height : r.top)) / img.naturalHeight}%`;
      figure.append(label);
    }
    ImaginemPeople.nameBoxes(figure);
    figure.dataset.boxes = String((boxes || []).length);
  }, { once: true });
  const faceIds = (boxes || []).map((b) => b.face_id).filter((id) => typeof id === "string" && id);
  if (faceIds.length) figure.dataset.faces = JSON.stringify(faceIds);
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

  // Files the browser itself cannot draw are flagged; any file can be taken out of the selection again.
  const unreadable = new Set();
  function check() {
    const problems = [];
    if (files.length > limits.max_files) problems.push(`${files.length} files: at most ${limits.max_files} per upload`);
    const bad = files.filter((f) => unreadable.has(f)).map((f) => f.name);
    if (bad.length) problems.push(`not images: ${bad.join(", ")} (remove them with ×)`);
    message.textContent = problems.join("; ");
  }

  function addFiles(list) {
    for (const file of list) {
      files.push(file);
      const url = URL.createObjectURL(file);
      const img = el("img", { src: url, alt: "" });
      const figure = el("figure", {},
        el("button", { type: "button", class: "remove", title: `remove ${file.name}`, "aria-label": `remove ${file.name}`,
                       text: "×", onclick: () => {
                         files.splice(files.indexOf(file), 1);
                         unreadable.delete(file);
                         URL.revokeObjectURL(url);
                         figure.remove();
                         check();
                       } }),
        img, el("figcaption", { text: file.name }));
      img.addEventListener("error", () => {
        unreadable.add(file);
        figure.classList.add("bad");
        img.replaceWith(el("div", { class: "no-image", text: "not an image" }));
        check();
      }, { once: true });
      previews.append(figure);
    }
    check();
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
      ` — ${b.jobs} job(s), last `, when(b.last))));
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
       el("p", {}, el("a", { href: `#/results?batch=${encodeURIComponent(batchId)}`, text: "Results of this batch" })),
       forgetButton("this batch", `/batches/${encodeURIComponent(batchId)}`, "#/upload"));
  // The first read has every job; later ones only the jobs changed since `cursor`, merged in here. The pause
  // between polls doubles (1 s up to 8 s) while nothing changes, and is 1 s again once something does.
  const jobs = new Map();
  let cursor = null;
  let pause = 1000;
  while (token === pageToken) {
    let view;
    try {
      const since = cursor ? `?since=${encodeURIComponent(cursor)}` : "";
      view = await getJSON(`/batches/${encodeURIComponent(batchId)}${since}`);
    } catch (e) {
      status.replaceChildren(failure(e));
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (token !== pageToken) return;
    const changed = view.jobs.filter((j) => JSON.stringify(j) !== JSON.stringify(jobs.get(j.id)));
    changed.forEach((j) => jobs.set(j.id, j));
    cursor = view.cursor || cursor;
    pause = changed.length || !cursor ? 1000 : Math.min(pause * 2, 8000);
    const all = [...jobs.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, all.filter((j) => j.outcome === o).length]));
    const done = all.length > 0 && counts["in progress"] === 0;
    if (changed.length || !table.firstChild) {
      counters.replaceChildren(...OUTCOMES.map((o) => el("div", { class: `counter outcome-${cssName(o)}`,
                                                             "data-outcome": o },
        el("b", { text: counts[o] }), o)));
      const finished = all.length - counts["in progress"];
      bar.max = Math.max(all.length, 1);
      bar.value = finished;
      status.textContent = done ? `done: ${all.length} job(s)` : `${finished} of ${all.length} job(s) done…`;
      status.dataset.done = String(done);
      const queues = [];
      all.forEach((j) => j.steps.forEach((s) => { if (!queues.includes(s.queue)) queues.push(s.queue); }));
      table.replaceChildren(el("table", { id: "jobs" },
        el("thead", {}, el("tr", {}, el("th", { text: "job" }), el("th", { text: "outcome" }),
                           queues.map((q) => el("th", { text: q })), el("th", { text: "failures" }))),
        el("tbody", {}, all.map((j) => el("tr", { "data-job": j.id },
          el("td", {}, el("a", { href: jobHref(batchId, j.id), text: j.id })),
          el("td", { class: `outcome-${cssName(j.outcome)}`, text: j.outcome }),
          queues.map((q) => {
            const step = j.steps.find((s) => s.queue === q);
            return el("td", { class: step ? `state-${step.state}` : "", text: step ? step.state : "" });
          }),
          el("td", {}, Object.entries(j.causes).map(([k, v]) => el("div", { class: "error", text: `${k}: ${v}` })),
             j.skipped ? el("div", { class: "muted skipped", text: `${j.skipped} later step(s) skipped` }) : []))))));
    }
    if (done) return;
    await new Promise((r) => setTimeout(r, pause));
  }
}

// ---- Results ------------------------------------------------------------------------------------------
function chips(items, kind) {
  return el("div", { class: "chips" }, items.map((t) => el("span", { class: `chip ${kind}`,
                                                               text: `${kind === "category" ? categoryText(t.name) : t.name}${percent(t.confidence)}` })));
}

function resultCard(c) {
  const seen = c.faces.flatMap((f) => f.also_seen_in).filter((s) => s.job_id);
  return el("article", { class: "card", "data-job": c.id, "data-batch": c.batch_id },
    photo(c.image, c.boxes, { alt: c.name }),
    el("h3", {}, el("a", { href: jobHref(c.batch_id, c.id), text: c.name || c.id })),
    el("div", { class: "muted" }, el("span", { text: c.batch_id }), " · ", when(c.timestamp),
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
    value: l.name, selected: wantedLabels.includes(l.name),
    text: `${l.kind}: ${l.kind === "category" ? categoryText(l.name) : l.name} (${l.jobs})` })));
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

function parsed(value) {
  if (typeof value !== "string") return value;
  try { return JSON.parse(value); } catch { return null; }
}

const list = (value) => (Array.isArray(value) ? value : []);
const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// One line of what a step found, in the pipeline's words; the raw output is in the entity below.
function outputSummary(queue, output) {
  if (output === null || output === undefined) return "";
  if (typeof output !== "object" || Array.isArray(output)) return String(output).slice(0, 120);
  if (typeof output.linked_content === "string") return "large output, stored in the largemessages container";
  if (queue === "generalclassification") {
    const tags = list(output.tags).slice().sort((a, b) => (b.confidence || 0) - (a.confidence || 0));
    const caption = list(output.description && output.description.captions)[0];
    return [caption && caption.text ? `“${caption.text}”` : null,
            tags.length ? `tags: ${tags.slice(0, 5).map((t) => `${t.name}${percent(t.confidence)}`).join(", ")}` : null,
            list(output.categories).length ? `categories: ${list(output.categories).map((c) => categoryText(c.name))
              .join(", ")}` : null].filter(Boolean).join(" · ") || "no tags";
  }
  if (queue === "ocr") {
    const text = typeof output.OCR_fullText === "string" ? output.OCR_fullText.split(/\s+/).join(" ").trim() : "";
    return text ? `text: ${text.length > 100 ? text.slice(0, 100) + "…" : text}` : "no text found";
  }
  if (queue === "facedetection") return count(list(output.faces).length, "face found", "faces found");
  if (queue === "facecrop") return count(list(output.facesUrls).length, "face cropped", "faces cropped");
  if (queue === "faceprint") return count(list(output.faces).length, "face print", "face prints");
  if (queue === "facematch") {
    const faces = list(output.matches);
    const matches = faces.reduce((n, f) => n + list(f && f.matches).length, 0);
    return `${count(faces.length, "face", "faces")}, ${count(matches, "match", "matches")} with earlier faces`;
  }
  if (queue === "pipelineoutput") return output.done ? "written to the pipeline_output table" : "not written";
  const keys = Object.keys(output);
  return keys.length ? `fields: ${keys.slice(0, 6).join(", ")}${keys.length > 6 ? ", …" : ""}` : "empty";
}

function duration(entity, queue) {
  const timings = parsed(entity[`${queue}_timings`]);
  const ms = timings && typeof timings.total_ms === "number" ? timings.total_ms : null;
  if (ms === null) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

async function jobPage(batchId, jobId) {
  const view = await getJSON(`/batches/${encodeURIComponent(batchId)}/jobs/${encodeURIComponent(jobId)}`);
  const c = view.card;
  const updated = view.entity.Timestamp || (c && c.timestamp);
  show(el("h2", {}, "Job ", el("span", { text: view.id }), " ",
          el("span", { class: `outcome-${cssName(view.outcome)}`, id: "outcome", text: `(${view.outcome})` })),
       el("p", {}, "Batch ", el("a", { href: `#/batch/${encodeURIComponent(view.batch_id)}`, text: view.batch_id }),
          updated ? [" · last update ", when(updated)] : null),
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
          el("thead", {}, el("tr", {}, ["step", "queue", "state", "time", "output", "exception"].map((h) =>
            el("th", { text: h })))),
          el("tbody", {}, view.steps.map((s) => el("tr", { "data-queue": s.queue },
            el("td", { text: s.step }), el("td", { text: s.queue }),
            el("td", { class: `state-${s.state}`, text: s.state }),
            el("td", { class: "time", text: duration(view.entity, s.queue) }),
            el("td", { class: "summary", text: outputSummary(s.queue, s.output) }),
            el("td", { class: s.exception ? "error" : "", text: s.exception || "" }))))),
       el("details", { id: "raw" }, el("summary", { text: "The raw pipelinelogs entity (every step's output as JSON)" }),
          el("table", { class: "entity", id: "entity" }, el("tbody", {}, Object.entries(view.entity).map(([k, v]) =>
            el("tr", {}, el("th", { text: k }), el("td", {}, el("pre", { text: pretty(v) }))))))),
       forgetButton("this job", `/batches/${encodeURIComponent(view.batch_id)}/jobs/${encodeURIComponent(view.id)}`,
                    `#/batch/${encodeURIComponent(view.batch_id)}`));
  ImaginemPeople.nameFaces(main);
}

// ---- forgetting (DELETE /api/…; the custom header keeps other sites out, as for uploads) ---------------
function forgetButton(what, path, after) {
  const status = el("span", { class: "muted", role: "status" });
  const button = el("button", { type: "button", class: "forget", "data-forget": path, text: `Forget ${what}`,
    onclick: async () => {
      if (!window.confirm(`Erase ${what} from every store (records, images, faces, results)? This cannot be undone.`)) return;
      button.disabled = true;
      status.textContent = "erasing…";
      const response = await fetch(API + path, { method: "DELETE", headers: { "X-Imaginem-Forget": "1" } });
      const body = await response.json().catch(() => ({}));
      if (response.ok) { location.hash = after; return; }
      button.disabled = false;
      status.replaceChildren(failure(new Error(body.error || (body.stores || []).flatMap((s) => s.failures).join("; ")
                                                 || `${response.status} ${response.statusText}`)));
    } });
  return el("p", { class: "forget" }, button, " ", status);
}

// ---- routing ------------------------------------------------------------------------------------------
async function route() {
  const token = ++pageToken;
  const [path] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  const page = parts[0] || "upload";
  // A batch page is none of the three: no tab is marked there.
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("current", a.dataset.page === page ||
    (page === "person" && a.dataset.page === "people")));
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
