// People: a grid of persons from the face index (name in place, merge, hide) and a person's photos
// ("not this person"), plus the small pieces the Results and Job pages use (person filter, names on faces).
// Uses app.js's helpers (el, show, getJSON, photo, jobHref, failure, pageToken); loaded before it.
// Every name is put in the page as text (textContent / input value), never as HTML.
"use strict";

const ImaginemPeople = (() => {
  const CHANGE_HEADER = { "X-Imaginem-Upload": "1", "Content-Type": "application/json" };

  function ownCrop(address) {
    return typeof address === "string" && address.startsWith("/api/faces/") ? address : null;
  }

  function personHref(id) {
    return `#/person/${encodeURIComponent(id)}`;
  }

  async function send(method, path, body) {
    const response = await fetch(API + path, { method, headers: CHANGE_HEADER, body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || `${response.status} ${response.statusText}`);
    return answer;
  }

  function note(text) {
    return text ? el("p", { class: "panel note", role: "note", text }) : null;
  }

  function photosText(n) {
    return `${n} photo${n === 1 ? "" : "s"}`;
  }

  // A name field that saves itself: Enter or leaving the field; Escape puts the old name back.
  function nameField(person, onSaved) {
    const input = el("input", { type: "text", class: "person-name", placeholder: "Add a name", maxlength: 100,
                                "aria-label": "name", "data-name-for": person.id });
    input.value = person.name || "";
    const message = el("div", { class: "name-error error", role: "alert" });
    let saved = input.value;
    async function save() {
      const name = input.value.trim();
      if (name === saved) return;
      input.disabled = true;
      try {
        const answer = await send("PATCH", `/people/${encodeURIComponent(person.id)}`, { name: name || null });
        saved = answer.name || "";
        input.value = saved;
        message.textContent = "";
        input.classList.add("saved");
        setTimeout(() => input.classList.remove("saved"), 900);
        if (onSaved) onSaved(answer);
      } catch (e) {
        message.textContent = String(e.message || e);
      } finally {
        input.disabled = false;
      }
    }
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); input.blur(); }
      if (event.key === "Escape") { input.value = saved; input.blur(); }
    });
    input.addEventListener("change", save);
    return el("div", { class: "name-field" }, input, message);
  }

  function faceImage(address, alt, size) {
    const src = ownCrop(address);
    if (!src) return el("div", { class: "face-missing", text: "?" });
    const img = el("img", { src: size ? src.replace(/size=\d+/, `size=${size}`) : src, alt, loading: "lazy",
                            class: "face" });
    img.addEventListener("error", () => img.replaceWith(el("div", { class: "face-missing", text: "?" })),
                         { once: true });
    return img;
  }

  // ---- the grid ---------------------------------------------------------------------------------------
  async function peoplePage(token) {
    const showHidden = new URLSearchParams(location.hash.split("?")[1] || "").get("hidden") === "1";
    const grid = el("div", { class: "people-grid", id: "people" });
    const status = el("p", { class: "muted" });
    const more = el("button", { type: "button", class: "secondary", text: "Load more", hidden: true });
    const selected = new Set();
    const mergeButton = el("button", { type: "button", id: "merge", disabled: true, text: "Merge selected" });
    const clearButton = el("button", { type: "button", class: "secondary", id: "clear-selection", hidden: true,
                                       text: "Clear selection" });
    const toggle = el("label", { class: "toggle" },
      el("input", { type: "checkbox", id: "show-hidden", checked: showHidden,
                    onchange: (e) => { location.hash = e.target.checked ? "#/people?hidden=1" : "#/people"; } }),
      " Show hidden people");
    const actions = el("div", { class: "people-actions" }, toggle, mergeButton, clearButton);
    const heading = el("h2", { text: "People" });
    const noteSlot = el("div");
    show(el("div", { class: "people-head" }, heading, actions), noteSlot, status, grid, more);

    function refreshSelection() {
      mergeButton.disabled = selected.size < 2;
      mergeButton.textContent = selected.size >= 2 ? `Merge ${selected.size} people` : "Merge selected";
      clearButton.hidden = selected.size === 0;
      grid.classList.toggle("selecting", selected.size > 0);
    }
    clearButton.addEventListener("click", () => {
      selected.clear();
      grid.querySelectorAll(".person-card.selected").forEach((c) => c.classList.remove("selected"));
      grid.querySelectorAll("input.select").forEach((c) => { c.checked = false; });
      refreshSelection();
    });
    mergeButton.addEventListener("click", async () => {
      // The first chosen keeps its id (and its name, when both have one), as `imaginem people merge`.
      const [into, ...others] = [...selected];
      mergeButton.disabled = true;
      try {
        await send("POST", `/people/${encodeURIComponent(into)}/merge`, { ids: others });
        location.hash = personHref(into);
      } catch (e) {
        status.replaceChildren(failure(e));
        refreshSelection();
      }
    });

    function card(p) {
      const box = el("input", { type: "checkbox", class: "select", "aria-label": "select for merging" });
      const node = el("article", { class: `person-card${p.hidden ? " is-hidden" : ""}`, "data-person": p.id },
        el("a", { href: personHref(p.id), class: "face-link", title: p.name || "Unnamed person" },
           faceImage(p.crop, p.name || "face", 256)),
        box,
        p.hidden ? el("span", { class: "badge", text: "hidden" }) : null,
        nameField(p, (answer) => { p.name = answer.name; }),
        el("div", { class: "muted count", text: photosText(p.photos) }));
      box.addEventListener("change", () => {
        if (box.checked) selected.add(p.id); else selected.delete(p.id);
        node.classList.toggle("selected", box.checked);
        refreshSelection();
      });
      return node;
    }

    let next = 0;
    let loading = false;
    async function load() {
      if (loading || next === null || token !== pageToken) return;
      loading = true;
      try {
        const page = await getJSON(`/people?offset=${next}&limit=48${showHidden ? "&hidden=1" : ""}`);
        if (token !== pageToken) return;
        noteSlot.replaceChildren(...[note(page.note)].filter(Boolean));
        grid.append(...page.people.map(card));
        next = page.next;
        more.hidden = next === null;
        status.textContent = grid.children.length ? "Select two or more to merge them; click a face for the photos."
          : "No people yet: faces appear here once photos have run through facematch.";
      } catch (e) {
        status.replaceChildren(failure(e));
      } finally {
        loading = false;
      }
    }
    more.addEventListener("click", load);
    await load();
  }

  // ---- one person -------------------------------------------------------------------------------------
  async function personPage(personId, token) {
    const first = await getJSON(`/people/${encodeURIComponent(personId)}?limit=24`);
    if (token !== pageToken) return;
    const p = first.person;
    const tiles = el("div", { class: "person-photos", id: "photos" });
    const more = el("button", { type: "button", class: "secondary", text: "Load more", hidden: first.next === null });
    const count = el("span", { class: "muted", id: "person-count", text: `${photosText(p.photos)} · ${p.faces} faces` });
    const hide = el("button", { type: "button", class: "secondary", id: "hide-person",
                                text: p.hidden ? "Show in People" : "Hide from People" });
    const status = el("p", { class: "muted" });
    hide.addEventListener("click", async () => {
      try {
        const answer = await send("PATCH", `/people/${encodeURIComponent(p.id)}`, { hidden: !p.hidden });
        p.hidden = answer.hidden;
        hide.textContent = p.hidden ? "Show in People" : "Hide from People";
      } catch (e) { status.replaceChildren(failure(e)); }
    });
    show(note(first.note),
         el("div", { class: "person-head" },
            el("div", { class: "person-portrait" }, faceImage(p.crop, p.name || "face", 384)),
            el("div", {},
               el("p", {}, el("a", { href: "#/people", text: "← People" })),
               nameField(p, (answer) => { p.name = answer.name; }),
               el("p", {}, count),
               el("p", { class: "person-links" },
                  el("a", { href: `#/results?person=${encodeURIComponent(p.id)}`, id: "person-results",
                            text: "Results with this person" }), " ", hide))),
         status, tiles, more,
         forgetButton("this person", `/people/${encodeURIComponent(p.id)}`, "#/people"));

    function tile(photoEntry) {
      const boxes = photoEntry.faces.map((f) => ({ rectangle: f.face_rectangle }));
      const node = el("article", { class: "person-photo", "data-job": photoEntry.job_id },
        el("a", { href: jobHref(photoEntry.batch_id, photoEntry.job_id), class: "photo-link" },
           photo(photoEntry.image, boxes, { alt: photoEntry.name || photoEntry.job_id })),
        el("div", { class: "photo-name", text: photoEntry.name || photoEntry.job_id }));
      for (const face of photoEntry.faces) {
        const button = el("button", { type: "button", class: "not-this", "data-face": face.face_id,
                                      text: "Not this person" });
        const row = el("div", { class: "face-row" }, faceImage(face.crop, "face", 96), button);
        button.addEventListener("click", async () => {
          button.disabled = true;
          try {
            const answer = await send("POST", `/faces/${encodeURIComponent(face.face_id)}/person`, { new: true });
            row.replaceChildren(el("span", { class: "muted" }, "Moved to ",
                                   el("a", { href: personHref(answer.person_id), text: "a new person" })));
            p.faces -= 1;
            const left = node.querySelectorAll("button.not-this").length;
            if (!left) p.photos -= 1;
            count.textContent = `${photosText(p.photos)} · ${p.faces} faces`;
            node.classList.toggle("moved-out", !left);
          } catch (e) {
            button.disabled = false;
            status.replaceChildren(failure(e));
          }
        });
        node.append(row);
      }
      return node;
    }

    tiles.append(...first.photos.map(tile));
    let next = first.next;
    more.addEventListener("click", async () => {
      if (next === null) return;
      const page = await getJSON(`/people/${encodeURIComponent(p.id)}?limit=24&offset=${next}`);
      if (token !== pageToken) return;
      tiles.append(...page.photos.map(tile));
      next = page.next;
      more.hidden = next === null;
    });
  }

  // ---- pieces for Results and Job ----------------------------------------------------------------------
  // A select of people for the results filter, filled once the list arrives.
  function personFilter(chosen) {
    const select = el("select", { id: "person-filter", "aria-label": "person" },
                      el("option", { value: "", text: "Anyone" }));
    getJSON("/people?limit=200").then((page) => {
      const people = [...page.people].sort((a, b) => (b.name ? 1 : 0) - (a.name ? 1 : 0));
      select.append(...people.map((p) => el("option", { value: p.id, selected: p.id === chosen,
        text: `${p.name || "Unnamed"} (${photosText(p.photos)})` })));
    }).catch(() => {});
    return el("label", {}, el("div", { text: "Person" }), select);
  }

  // Puts each face's person name (a link to the person) under its crop: one request for the whole page.
  async function nameFaces(root) {
    const crops = [...root.querySelectorAll("img.crop[data-face]:not([data-named])")];
    const ids = [...new Set(crops.map((c) => c.dataset.face))].slice(0, 100);
    if (!ids.length) return;
    const query = ids.map((id) => `id=${encodeURIComponent(id)}`).join("&");
    const { faces } = await getJSON(`/faces?${query}`).catch(() => ({ faces: {} }));
    for (const crop of crops) {
      const found = faces[crop.dataset.face];
      crop.dataset.named = "1";
      if (!found) continue;
      const label = el("a", { href: personHref(found.person_id), class: "face-name",
                              text: found.name || "Unnamed" });
      crop.replaceWith(el("span", { class: "named-crop" }, crop.cloneNode(), label));
    }
  }

  return { peoplePage, personPage, personFilter, nameFaces };
})();
