// facetrust web UI: plain JavaScript over the server's /v1 API (no build step).
"use strict";

const $ = (selector) => document.querySelector(selector);
const KEY_STORAGE = "facetrust-api-key";

// ---------------------------------------------------------------- API access
async function api(path, { method = "GET", form = null, json = null } = {}) {
  const headers = {};
  const key = localStorage.getItem(KEY_STORAGE);
  if (key) headers["x-api-key"] = key;
  let body = null;
  if (form) body = form;
  if (json) { headers["content-type"] = "application/json"; body = JSON.stringify(json); }
  const response = await fetch(path, { method, headers, body });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.blob();
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return data;
}

function show(message, ok = false) {
  const box = $("#message");
  box.textContent = message;
  box.className = ok ? "ok" : "";
  box.hidden = !message;
}

async function guarded(action) {
  show("");
  try { await action(); } catch (error) { show(error.message); }
}

// ---------------------------------------------------------------- drawing
function loadImage(blob) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => { URL.revokeObjectURL(image.src); resolve(image); };
    image.onerror = () => reject(new Error("the browser cannot display this image"));
    image.src = URL.createObjectURL(blob);
  });
}

// Draw the image with every face boxed, its 5 landmarks and its score; `labels` (optional)
// are extra captions per face (e.g. a gallery match).
async function drawFaces(canvas, blob, result, labels = []) {
  const image = await loadImage(blob);
  const scale = Math.min(1, 720 / image.naturalWidth);
  // The server sees the EXIF-rotated image; the browser draws it the same way.
  const sx = (image.naturalWidth * scale) / result.width;
  const sy = (image.naturalHeight * scale) / result.height;
  canvas.width = Math.round(image.naturalWidth * scale);
  canvas.height = Math.round(image.naturalHeight * scale);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  ctx.lineWidth = 2;
  ctx.font = "14px system-ui, sans-serif";
  result.faces.forEach((face, i) => {
    const [x1, y1, x2, y2] = face.box;
    ctx.strokeStyle = "#0f6";
    ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
    ctx.fillStyle = "#f33";
    for (const [x, y] of face.landmarks) {
      ctx.beginPath(); ctx.arc(x * sx, y * sy, 2.5, 0, 2 * Math.PI); ctx.fill();
    }
    const text = `#${i} ${face.score.toFixed(2)}${labels[i] ? " " + labels[i] : ""}`;
    ctx.fillStyle = "rgba(0,0,0,0.6)";
    ctx.fillRect(x1 * sx, Math.max(0, y1 * sy - 18), ctx.measureText(text).width + 8, 18);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x1 * sx + 4, Math.max(13, y1 * sy - 5));
  });
}

function fillTable(table, header, rows) {
  table.innerHTML = "";
  if (!rows.length) return;
  const head = table.insertRow();
  for (const name of header) { const th = document.createElement("th"); th.textContent = name; head.appendChild(th); }
  for (const cells of rows) {
    const row = table.insertRow();
    for (const cell of cells) {
      const td = row.insertCell();
      if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell;
    }
  }
}

const fmt = (value) => {
  if (typeof value !== "number") return JSON.stringify(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
};
const EXTRA_SKIP = new Set(["box", "score", "landmarks", "embedding", "attributes"]);

// "age 35 (28-44), male 1.00, eyes open/?, happy 0.65"; "?" = unknown (as `facetrust analyze` prints it).
function attributesText(attributes) {
  if (!attributes) return "";
  return Object.entries(attributes).map(([name, v]) => {
    if (v.status === "unavailable") return `${name} unavailable (${v.reason})`;
    if (name === "age") return `age ${v.value.toFixed(0)} (${v.low}-${v.high})`;
    if (name === "eyes") return "eyes " + ["left", "right"].map((e) => v[e].open === null ? "?" : v[e].open ? "open" : "closed").join("/");
    return `${v.label} ${v.probability.toFixed(2)}`;
  }).join(", ");
}

// ---------------------------------------------------------------- analyze (file or webcam)
async function analyzeBlob(blob) {
  const form = new FormData();
  form.append("image", blob, "image.jpg");
  const result = await api("/v1/analyze", { method: "POST", form });
  await drawFaces($("#analyze-canvas"), blob, result);
  fillTable($("#analyze-faces"), ["#", "box", "score", "attributes", "extras"], result.faces.map((face, i) => [
    i, face.box.map((v) => v.toFixed(0)).join(", "), face.score.toFixed(4), attributesText(face.attributes),
    Object.entries(face).filter(([k]) => !EXTRA_SKIP.has(k)).map(([k, v]) => `${k}: ${fmt(v)}`).join("; "),
  ]));
  const count = result.faces.length;  // written last: the page is complete when the summary changes
  $("#analyze-summary").textContent = `${count} face${count === 1 ? "" : "s"} found (${result.width}x${result.height})`;
}

let stream = null;
async function webcamStart() {
  if (!navigator.mediaDevices) throw new Error("the browser allows the webcam only on https:// or localhost pages");
  stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  const video = $("#webcam");
  video.srcObject = stream;
  video.hidden = false;
  $("#webcam-capture").hidden = false;
  $("#webcam-stop").hidden = false;
}

function webcamStop() {
  if (stream) stream.getTracks().forEach((track) => track.stop());
  stream = null;
  $("#webcam").hidden = true;
  $("#webcam-capture").hidden = true;
  $("#webcam-stop").hidden = true;
}

async function webcamCapture() {
  const video = $("#webcam");
  if (!video.videoWidth) throw new Error("the camera has not delivered a frame yet");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  await analyzeBlob(blob);
}

// ---------------------------------------------------------------- compare
async function compare() {
  const a = $("#compare-a").files[0];
  const b = $("#compare-b").files[0];
  if (!a || !b) throw new Error("choose two images first");
  const form = new FormData();
  form.append("image_a", a);
  form.append("image_b", b);
  const result = await api("/v1/verify", { method: "POST", form });
  await drawFaces($("#compare-canvas-a"), a, { ...(await sizeOf(a)), faces: [result.face_a] });
  await drawFaces($("#compare-canvas-b"), b, { ...(await sizeOf(b)), faces: [result.face_b] });
  const out = $("#compare-result");
  out.className = `summary ${result.same ? "same" : "different"}`;
  out.textContent = `${result.same ? "SAME person" : "DIFFERENT people"}: similarity ${result.similarity.toFixed(4)}, ` +
    `threshold ${result.threshold.toFixed(4)} (FMR ${result.fmr}); faces found ${result.faces_in_a} / ${result.faces_in_b}` +
    (result.hint ? `. Note: ${result.hint}` : "");
}

// The browser applies EXIF orientation like the server, so the displayed size is the server's size.
async function sizeOf(blob) {
  const image = await loadImage(blob);
  return { width: image.naturalWidth, height: image.naturalHeight };
}

// ---------------------------------------------------------------- gallery
const gallery = () => $("#gallery-select").value;

async function loadGalleries(select = null) {
  const data = await api("/v1/galleries");
  const menu = $("#gallery-select");
  menu.innerHTML = "";
  for (const g of data.galleries) {
    const option = document.createElement("option");
    option.value = g.name;
    option.textContent = `${g.name} (${g.identities} identities)`;
    menu.appendChild(option);
  }
  if (select) menu.value = select;
  await loadIdentities();
}

async function loadIdentities() {
  const table = $("#identities");
  if (!gallery()) { table.innerHTML = ""; $("#identity-count").textContent = ""; return; }
  const data = await api(`/v1/galleries/${encodeURIComponent(gallery())}/identities`);
  $("#identity-count").textContent = `(${data.total})`;
  fillTable(table, ["id", "name", "templates", ""], data.identities.map((identity) => {
    const remove = document.createElement("button");
    remove.textContent = "Delete";
    remove.className = "delete";
    remove.dataset.id = identity.id;
    remove.onclick = () => guarded(async () => {
      // The id travels as a query parameter: browsers rewrite "." and ".." path segments.
      await api(`/v1/galleries/${encodeURIComponent(gallery())}/identities?${new URLSearchParams({ id: identity.id })}`,
        { method: "DELETE" });
      show(`deleted ${identity.id}`, true);
      await loadGalleries(gallery());
    });
    return [identity.id, identity.name || "", identity.templates.length, remove];
  }));
}

async function createGallery() {
  const name = $("#gallery-new").value.trim();
  if (!name) throw new Error("type a gallery name first");
  await api("/v1/galleries", { method: "POST", json: { name } });
  $("#gallery-new").value = "";
  show(`created gallery ${name}`, true);
  await loadGalleries(name);
}

async function enrol() {
  const id = $("#enrol-id").value.trim();
  const files = $("#enrol-file").files;
  if (!gallery()) throw new Error("create or choose a gallery first");
  if (!id || !files.length) throw new Error("give an identity id and at least one image");
  const form = new FormData();
  form.append("id", id);
  if ($("#enrol-name").value.trim()) form.append("name", $("#enrol-name").value.trim());
  for (const file of files) form.append("images", file);
  await api(`/v1/galleries/${encodeURIComponent(gallery())}/identities`, { method: "POST", form });
  show(`enrolled ${id}`, true);
  await loadGalleries(gallery());
}

async function search() {
  const file = $("#search-file").files[0];
  if (!gallery() || !file) throw new Error("choose a gallery and an image first");
  const form = new FormData();
  form.append("image", file);
  const data = await api(`/v1/galleries/${encodeURIComponent(gallery())}/search?all_faces=true&k=3`,
    { method: "POST", form });
  const labels = data.results.map((r) => r.identity || "unknown");
  await drawFaces($("#search-canvas"), file, { width: data.width, height: data.height, faces: data.results.map((r) => r.face) }, labels);
  $("#search-result").textContent = data.results.map((r, i) => {
    const best = r.matches[0];
    return `face #${i}: ${r.identity ? r.identity : "not enrolled"}` + (best ? ` (best ${best.id} ${best.score.toFixed(4)}, threshold ${r.threshold.toFixed(4)})` : "");
  }).join("; ") || "no face found";
}

// ---------------------------------------------------------------- reports
function flatten(value, prefix = "", out = []) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (!Array.isArray(value)) {
    out.push([prefix, value]);
  }
  return out;
}

async function loadReports() {
  const data = await api("/v1/reports");
  const menu = $("#report-select");
  menu.innerHTML = "";
  for (const r of data.reports) {
    const option = document.createElement("option");
    option.value = r.name;
    option.textContent = `${r.protocol || r.name} (${r.plots} plots)`;
    menu.appendChild(option);
  }
  if (data.reports.length) await showReport();
}

async function showReport() {
  const report = await api(`/v1/reports/${encodeURIComponent($("#report-select").value)}`);
  const view = $("#report-view");
  view.innerHTML = "";
  delete view.dataset.loaded;
  const title = document.createElement("h3");
  title.textContent = report.protocol || report.name;
  view.appendChild(title);
  const table = document.createElement("table");
  table.className = "data";
  fillTable(table, ["metric", "value"], flatten(report.metrics || {}).map(([k, v]) => [k, fmt(v)]));
  view.appendChild(table);
  for (const plot of report.plots) {
    const figure = document.createElement("figure");
    const image = document.createElement("img");
    image.alt = plot.caption;
    image.src = URL.createObjectURL(await api(plot.url));  // fetched with the key, shown from a blob
    const caption = document.createElement("figcaption");
    caption.textContent = plot.caption;
    figure.append(image, caption);
    view.appendChild(figure);
  }
  view.dataset.loaded = "true";
}

// ---------------------------------------------------------------- wiring
function switchTab(name) {
  document.querySelectorAll(".tab").forEach((tab) => tab.classList.toggle("active", tab.dataset.tab === name));
  document.querySelectorAll(".panel").forEach((panel) => { panel.hidden = panel.id !== `tab-${name}`; });
  if (name === "gallery") guarded(() => loadGalleries(gallery()));
  if (name === "reports") guarded(loadReports);
}

async function init() {
  $("#api-key").value = localStorage.getItem(KEY_STORAGE) || "";
  $("#key-form").onsubmit = (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_STORAGE, $("#api-key").value.trim());
    show("API key saved", true);
  };
  document.querySelectorAll(".tab").forEach((tab) => { tab.onclick = () => switchTab(tab.dataset.tab); });
  $("#analyze-file").onchange = () => guarded(() => analyzeBlob($("#analyze-file").files[0]));
  $("#webcam-start").onclick = () => guarded(webcamStart);
  $("#webcam-capture").onclick = () => guarded(webcamCapture);
  $("#webcam-stop").onclick = webcamStop;
  $("#compare-run").onclick = () => guarded(compare);
  $("#gallery-create").onclick = () => guarded(createGallery);
  $("#gallery-select").onchange = () => guarded(loadIdentities);
  $("#enrol-run").onclick = () => guarded(enrol);
  $("#search-run").onclick = () => guarded(search);
  $("#report-select").onchange = () => guarded(showReport);
  try {
    const info = await (await fetch("/version")).json();
    $("#server-info").textContent = `v${info.facetrust} · ${info.detector} + ${info.recognizer}`;
  } catch (error) {
    $("#server-info").textContent = "server unreachable";
  }
}

init();
