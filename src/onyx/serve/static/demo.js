// The onyx serve demo page: lists the models, a drawing pad for 8x8 digit models, an upload box
// with top-5 labels for image models. Every call is a KServe v2 JSON request to this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, lastInput: null, lastScores: null, calls: 0 };
window.onyxDemo = state; // what the browser test reads back

async function infer(model, data, shape) {
  const body = { inputs: [{ name: model.inputs[0].name, shape, datatype: "FP32", data }],
                 outputs: [{ name: model.output }] };
  const started = performance.now();
  const reply = await fetch(`/v2/models/${encodeURIComponent(model.name)}/versions/${model.version}/infer`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const json = await reply.json();
  const latency = performance.now() - started;
  if (!reply.ok) throw new Error(json.error || reply.statusText);
  state.calls += 1;
  return { scores: json.outputs[0].data, latency };
}

function showError(error) {
  $("error").hidden = !error;
  $("error").textContent = error ? `Error: ${error.message || error}` : "";
}

// probabilities as they are when the output already is a distribution, softmax otherwise
function probabilities(scores) {
  const sum = scores.reduce((a, b) => a + b, 0);
  if (scores.every((s) => s >= 0) && Math.abs(sum - 1) < 0.01) return scores;
  const top = Math.max(...scores);
  const exps = scores.map((s) => Math.exp(s - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

function renderBars(list, entries) {
  list.replaceChildren(...entries.map(({ label, p }, i) => {
    const li = document.createElement("li");
    li.className = i === 0 ? "top" : "";
    li.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
    li.querySelector(".name").textContent = label;
    li.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    li.querySelector(".value").textContent = `${(100 * p).toFixed(1)}%`;
    return li;
  }));
}

const labelOf = (model, i) => (model.labels && model.labels[i] !== undefined ? model.labels[i] : `class ${i}`);

// ---- the drawing pad -------------------------------------------------------------------------
const pad = $("pad");
const ink = pad.getContext("2d", { willReadFrequently: true });
let drawing = false, inFlight = false, dirty = false, hasInk = false;

function clearPad() {
  ink.fillStyle = "#000";
  ink.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
  $("prediction").textContent = "–";
  renderBars($("bars"), []);
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height];
}

pad.addEventListener("pointerdown", (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  const [x, y] = point(event);
  ink.beginPath();
  ink.moveTo(x, y);
  ink.lineTo(x + 0.1, y + 0.1);
  stroke();
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const [x, y] = point(event);
  ink.lineTo(x, y);
  stroke();
});
for (const end of ["pointerup", "pointercancel"]) pad.addEventListener(end, () => { drawing = false; classifyPad(); });
$("clear").addEventListener("click", clearPad);

function stroke() {
  ink.strokeStyle = "#fff";
  ink.lineWidth = 20;
  ink.lineCap = ink.lineJoin = "round";
  ink.stroke();
  hasInk = true;
  classifyPad();
}

// The pad as the digits model saw its training data: the ink's bounding square scaled to 32x32,
// then the ink pixels of each 4x4 block counted (0..16), as in the UCI 8x8 digits.
function padPixels(model) {
  const { data, width, height } = ink.getImageData(0, 0, pad.width, pad.height);
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    if (data[4 * (y * width + x)] > 127) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  }
  const cells = new Array(64).fill(0);
  if (x1 < 0) return cells;
  const side = Math.max(x1 - x0, y1 - y0) + 1;
  const small = document.createElement("canvas");
  small.width = small.height = 32;
  const sctx = small.getContext("2d", { willReadFrequently: true });
  sctx.fillStyle = "#000";
  sctx.fillRect(0, 0, 32, 32);
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  sctx.drawImage(pad, cx - side / 2, cy - side / 2, side, side, 0, 0, 32, 32);
  const px = sctx.getImageData(0, 0, 32, 32).data;
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    if (px[4 * (y * 32 + x)] > 127) cells[(y >> 2) * 8 + (x >> 2)] += 1;
  }
  const [low, high] = model.input_range;
  return cells.map((c) => low + (c / 16) * (high - low));
}

async function classifyPad() {
  const model = state.model;
  if (!model || model.kind !== "digits" || !hasInk) return;
  if (inFlight) { dirty = true; return; } // one call at a time; the newest drawing goes next
  inFlight = true;
  try {
    const pixels = padPixels(model);
    const { scores, latency } = await infer(model, pixels, model.input_shape);
    const p = probabilities(scores);
    state.lastInput = pixels;
    state.lastScores = scores;
    const best = p.indexOf(Math.max(...p));
    $("prediction").textContent = labelOf(model, best);
    renderBars($("bars"), p.map((v, i) => ({ label: labelOf(model, i), p: v })));
    $("latency").textContent = `${latency.toFixed(1)} ms`;
    showError(null);
  } catch (error) {
    showError(error);
  } finally {
    inFlight = false;
    if (dirty) { dirty = false; classifyPad(); }
  }
}

// ---- image upload ------------------------------------------------------------------------------
$("upload").addEventListener("change", async () => {
  const file = $("upload").files[0];
  const model = state.model;
  if (!file || !model) return;
  try {
    const bitmap = await createImageBitmap(file);
    const [, channels, height, width] = model.input_shape;
    const preview = $("preview");
    preview.width = width;
    preview.height = height;
    const ctx = preview.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0, width, height);
    const rgba = ctx.getImageData(0, 0, width, height).data;
    const [low, high] = model.input_range;
    const mean = model.mean || [0], std = model.std || [1];
    const plane = width * height, data = new Array(channels * plane);
    for (let i = 0; i < plane; i++) {
      const rgb = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
      const values = channels === 1 ? [(rgb[0] + rgb[1] + rgb[2]) / 3] : rgb;
      values.forEach((v, c) => {
        const scaled = low + (v / 255) * (high - low);
        data[c * plane + i] = (scaled - mean[c % mean.length]) / std[c % std.length];
      });
    }
    const { scores, latency } = await infer(model, data, model.input_shape);
    const p = probabilities(scores);
    state.lastInput = data;
    state.lastScores = scores;
    const order = p.map((v, i) => i).sort((a, b) => p[b] - p[a]).slice(0, 5);
    renderBars($("top5"), order.map((i) => ({ label: labelOf(model, i), p: p[i] })));
    $("image-latency").textContent = `${latency.toFixed(1)} ms`;
    showError(null);
  } catch (error) {
    showError(error);
  }
});

// ---- the model list ----------------------------------------------------------------------------
function select(model, button) {
  state.model = model;
  for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-pressed", String(b === button));
  $("panel").hidden = false;
  $("panel-title").textContent = `${model.name} (version ${model.version})`;
  $("panel-description").textContent = model.description || "";
  for (const kind of ["digits", "image", "other"]) $(kind).hidden = kind !== model.kind;
  $("tensors").textContent = JSON.stringify({ inputs: model.inputs, outputs: model.outputs }, null, 2);
  renderBars($("top5"), []);
  showError(null);
  clearPad();
}

async function main() {
  try {
    const models = await (await fetch("/demo/models")).json();
    const nav = $("models");
    const buttons = models.map((model) => {
      const button = document.createElement("button");
      button.type = "button";
      button.innerHTML = "<span></span><small></small>";
      button.querySelector("span").textContent = model.name;
      button.querySelector("small").textContent =
        { digits: "drawing pad", image: "image upload, top 5", other: "tensors" }[model.kind] + ` · v${model.version}`;
      button.addEventListener("click", () => select(model, button));
      return button;
    });
    nav.replaceChildren(...buttons);
    const first = Math.max(0, models.findIndex((m) => m.kind === "digits"));
    if (models.length) select(models[first], buttons[first]);
  } catch (error) {
    $("models").textContent = `Could not list the models: ${error.message}`;
  }
}

main();
