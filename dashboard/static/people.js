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

  function countText(p) {
    return `${photosText(p.photos)} · ${p.faces} face${p.faces === 1 ? "" : "s"}`;
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

  // A type-ahead of named persons (the server searches names as the user types); the chosen name is sent as
  // the person (names are unique). The list is the browser's own datalist: every name is an option's value.
  let pickers = 0;
  function namePicker(exceptId, onPick) {
    pickers += 1;
    const list = el("datalist", { id: `person-names-${pickers}` });
    const input = el("input", { type: "text", class: "move-name", list: list.id, placeholder: "Name of a person",
                                "aria-label": "move to the person named", maxlength: 100, autocomplete: "off" });
    const go = el("button", { type: "button", class: "secondary move-go", text: "Move" });
    let pause = null;
    let asked = "";
    input.addEventListener("input", () => {
      clearTimeout(pause);
      pause = setTimeout(async () => {
        const typed = input.value.trim();
        if (!typed || typed === asked) return;
        asked = typed;
        const page = await getJSON(`/people?limit=12&name=${encodeURIComponent(typed)}`).catch(() => null);
        if (!page || asked !== typed) return;
        list.replaceChildren(...page.people.filter((q) => q.id !== exceptId && q.name)
          .map((q) => el("option", { value: q.name, text: photosText(q.photos) })));
      }, 200);
    });
    function pick() {
      const name = input.value.trim();
      if (name) onPick(name);
    }
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); pick(); } });
    go.addEventListener("click", pick);
    return el("span", { class: "move-picker" }, input, list, go);
  }

  // ---- the grid ---------------------------------------------------------------------------------------
  async function peoplePage(token) {
    const showHidden = new URLSearchParams(location.hash.split("?")[1] || "").get("hidden") === "1";
    const grid = el("div", { class: "people-grid", id: "people" });
    const status = el("p", { class: "muted" });
    const more = el("button", { type: "button", class: "secondary", text: "Load more", hidden: true });
    const selected = new Map();  // id -> the person as listed (its hidden flag decides Hide or Show)
    const search = el("input", { type: "search", id: "people-search", placeholder: "Search people by name",
                                 "aria-label": "search people by name", maxlength: 100, autocomplete: "off" });
    const mergeButton = el("button", { type: "button", id: "merge", disabled: true, text: "Merge selected" });
    const hideButton = el("button", { type: "button", class: "secondary", id: "hide-selected", hidden: true,
                                      text: "Hide" });
    const clearButton = el("button", { type: "button", class: "secondary", id: "clear-selection", hidden: true,
                                       text: "Clear selection" });
    const toggle = el("label", { class: "toggle" },
      el("input", { type: "checkbox", id: "show-hidden", checked: showHidden,
                    onchange: (e) => { location.hash = e.target.checked ? "#/people?hidden=1" : "#/people"; } }),
      " Show hidden people");
    const actions = el("div", { class: "people-actions" }, search, toggle, mergeButton, hideButton, clearButton);
    const heading = el("h2", { text: "People" });
    const noteSlot = el("div");
    show(el("div", { class: "people-head" }, heading, actions), noteSlot, status, grid, more);

    function allHidden() {
      return selected.size > 0 && [...selected.values()].every((p) => p.hidden);
    }
    function refreshSelection() {
      mergeButton.disabled = selected.size < 2;
      mergeButton.textContent = selected.size >= 2 ? `Merge ${selected.size} people` : "Merge selected";
      hideButton.hidden = selected.size === 0;
      const verb = allHidden() ? "Show" : "Hide";
      hideButton.textContent = `${verb} ${selected.size} ${selected.size === 1 ? "person" : "people"}`;
      clearButton.hidden = selected.size === 0;
      grid.classList.toggle("selecting", selected.size > 0);
    }
    function clearSelection() {
      selected.clear();
      grid.querySelectorAll(".person-card.selected").forEach((c) => c.classList.remove("selected"));
      grid.querySelectorAll("input.select").forEach((c) => { c.checked = false; });
      refreshSelection();
    }
    clearButton.addEventListener("click", clearSelection);
    mergeButton.addEventListener("click", async () => {
      // The first chosen keeps its id (and its name, when both have one), as `imaginem people merge`.
      const [into, ...others] = [...selected.keys()];
      mergeButton.disabled = true;
      try {
        await send("POST", `/people/${encodeURIComponent(into)}/merge`, { ids: others });
        location.hash = personHref(into);
      } catch (e) {
        status.replaceChildren(failure(e));
        refreshSelection();
      }
    });
    hideButton.addEventListener("click", async () => {
      const hidden = !allHidden();
      const chosen = [...selected.values()];
      hideButton.disabled = true;
      const outcomes = await Promise.allSettled(chosen.map((p) =>
        send("PATCH", `/people/${encodeURIComponent(p.id)}`, { hidden })));
      hideButton.disabled = false;
      outcomes.forEach((outcome, i) => {
        if (outcome.status !== "fulfilled") return;
        const p = chosen[i];
        p.hidden = hidden;
        selected.delete(p.id);
        const node = grid.querySelector(`.person-card[data-person="${CSS.escape(p.id)}"]`);
        if (!node) return;
        if (hidden && !showHidden) node.remove();  // out of sight, as in a photo app; "Show hidden" brings it back
        else node.replaceWith(card(p));
      });
      const failed = outcomes.filter((o) => o.status !== "fulfilled");
      status.replaceChildren(failed.length ? failure(failed[0].reason)
        : `${hidden ? "Hid" : "Showed"} ${chosen.length} ${chosen.length === 1 ? "person" : "people"}.`);
      refreshSelection();
    });

    function card(p) {
      const box = el("input", { type: "checkbox", class: "select", "aria-label": "select", checked: selected.has(p.id) });
      const node = el("article", { class: `person-card${p.hidden ? " is-hidden" : ""}${selected.has(p.id) ? " selected" : ""}`,
                                   "data-person": p.id },
        el("a", { href: personHref(p.id), class: "face-link", title: p.name || "Unnamed person" },
           faceImage(p.crop, p.name || "face", 256)),
        box,
        p.hidden ? el("span", { class: "badge", text: "hidden" }) : null,
        nameField(p, (answer) => { p.name = answer.name; }),
        el("div", { class: "muted count", text: photosText(p.photos) }));
      box.addEventListener("change", () => {
        if (box.checked) selected.set(p.id, p); else selected.delete(p.id);
        node.classList.toggle("selected", box.checked);
        refreshSelection();
      });
      return node;
    }

    let next = 0;
    let query = "";
    let generation = 0;  // bumps on every new search, so an older search's answer is dropped
    let loading = false;
    async function load() {
      if (loading || next === null || token !== pageToken) return;
      loading = true;
      const mine = generation;
      try {
        const named = query ? `&name=${encodeURIComponent(query)}` : "";
        const page = await getJSON(`/people?offset=${next}&limit=48${showHidden ? "&hidden=1" : ""}${named}`);
        if (token !== pageToken || mine !== generation) return;
        noteSlot.replaceChildren(...[note(page.note)].filter(Boolean));
        grid.append(...page.people.map(card));
        next = page.next;
        more.hidden = next === null;
        if (grid.children.length) {
          status.textContent = "Select two or more to merge them, or some to hide; click a face for the photos.";
        } else if (query) {
          status.textContent = `Nobody named like “${query}”.`;
        } else {
          status.textContent = "No people yet: faces appear here once photos have run through facematch.";
        }
      } catch (e) {
        if (mine === generation) status.replaceChildren(failure(e));
      } finally {
        loading = false;
        if (mine !== generation) load();
      }
    }
    let pause = null;
    search.addEventListener("input", () => {
      clearTimeout(pause);
      pause = setTimeout(() => {
        if (search.value.trim() === query) return;
        query = search.value.trim();
        generation += 1;
        next = 0;
        grid.replaceChildren();  // the selection stays: search, pick, search again, merge
        load();
      }, 250);
    });
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
    const count = el("span", { class: "muted", id: "person-count", text: countText(p) });
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
        const moveButton = el("button", { type: "button", class: "move-to", "data-face": face.face_id,
                                          text: "Move to…" });
        const row = el("div", { class: "face-row" }, faceImage(face.crop, "face", 96), button, moveButton);
        async function move(body, whom) {
          row.querySelectorAll("button, input").forEach((b) => { b.disabled = true; });
          try {
            const answer = await send("POST", `/faces/${encodeURIComponent(face.face_id)}/person`, body);
            if (answer.person_id === p.id) {  // moved to itself (its own name): nothing changed
              row.querySelectorAll("button, input").forEach((b) => { b.disabled = false; });
              return;
            }
            row.replaceChildren(el("span", { class: "muted moved" }, "Moved to ",
                                   el("a", { href: personHref(answer.person_id), text: whom })));
            p.faces -= 1;
            const left = node.querySelectorAll("button.not-this").length;
            if (!left) p.photos -= 1;
            count.textContent = countText(p);
            node.classList.toggle("moved-out", !left);
          } catch (e) {
            row.querySelectorAll("button, input").forEach((b) => { b.disabled = false; });
            status.replaceChildren(failure(e));
          }
        }
        button.addEventListener("click", () => move({ new: true }, "a new person"));
        moveButton.addEventListener("click", () => {
          const picker = namePicker(p.id, (name) => move({ to: name }, name));
          moveButton.replaceWith(picker);
          picker.querySelector("input").focus();
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

  // What the page knows of each face: face id -> { person_id, name } (filled by nameFaces).
  const knownFaces = new Map();

  // Names the face boxes drawn by photo() in a figure from what is known; an unnamed person's box says nothing.
  function nameBoxes(figure) {
    for (const label of figure.querySelectorAll(".box-name[data-face]")) {
      const found = knownFaces.get(label.dataset.face);
      label.textContent = found && found.name ? found.name : "";
      label.hidden = !label.textContent;
    }
  }

  // Puts each face's person name (a link to the person) under its crop and on its face box: one request for
  // the whole page.
  async function nameFaces(root) {
    const crops = [...root.querySelectorAll("img.crop[data-face]:not([data-named])")];
    const figures = [...root.querySelectorAll("figure.photo[data-faces]:not([data-named])")];
    const boxed = figures.flatMap((f) => { try { return JSON.parse(f.dataset.faces); } catch { return []; } });
    const ids = [...new Set([...crops.map((c) => c.dataset.face), ...boxed])].slice(0, 100);
    if (!ids.length) return;
    const query = ids.map((id) => `id=${encodeURIComponent(id)}`).join("&");
    const { faces } = await getJSON(`/faces?${query}`).catch(() => ({ faces: {} }));
    for (const [id, found] of Object.entries(faces || {})) knownFaces.set(id, found);
    for (const figure of figures) {
      figure.dataset.named = "1";
      nameBoxes(figure);
    }
    for (const crop of crops) {
      const found = knownFaces.get(crop.dataset.face);
      crop.dataset.named = "1";
      if (!found) continue;
      const label = el("a", { href: personHref(found.person_id), class: "face-name",
                              text: found.name || "Unnamed" });
      crop.replaceWith(el("span", { class: "named-crop" }, crop.cloneNode(), label));
    }
  }

  return { peoplePage, personPage, personFilter, nameFaces, nameBoxes };
})();
