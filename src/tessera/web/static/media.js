// Media item page: draw a box on the picture to fill the marker form; shortcuts.
"use strict";
(function () {
  const viewer = document.querySelector(".viewer.big");
  const form = document.getElementById("marker-form");
  const toggle = document.getElementById("draw-toggle");

  // Keyboard: r reveals/blurs the picture, d starts drawing (not while typing).
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName))) return;
    if (ev.key === "r" && viewer) {
      viewer.querySelector(".reveal").click();
    } else if (ev.key === "d" && toggle) {
      toggle.click();
    }
  });

  if (!viewer || !form || !toggle) return;
  const layer = viewer.querySelector(".draw-layer");
  const draft = viewer.querySelector(".draft");
  const stage = viewer.querySelector(".stage");
  const W = Number(viewer.dataset.w), H = Number(viewer.dataset.h);
  const field = (n) => form.querySelector(`[name=${n}]`);
  let start = null;

  const setDrawing = (on) => {
    layer.hidden = !on;
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? "Stop drawing" : "Draw a box";
    stage.classList.toggle("drawing", on);
  };
  toggle.addEventListener("click", () => setDrawing(layer.hidden));

  // picture pixels of a pointer event (the stage shows the whole picture, scaled)
  const at = (ev) => {
    const r = stage.getBoundingClientRect();
    const x = Math.round(((ev.clientX - r.left) / r.width) * W);
    const y = Math.round(((ev.clientY - r.top) / r.height) * H);
    return [Math.max(0, Math.min(W, x)), Math.max(0, Math.min(H, y))];
  };
  const show = (a, b) => {
    const [x0, x1] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])];
    const [y0, y1] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
    // position in % of the stage: set through CSSOM (allowed by the page's CSP)
    draft.style.left = `${(x0 / W) * 100}%`;
    draft.style.top = `${(y0 / H) * 100}%`;
    draft.style.width = `${((x1 - x0) / W) * 100}%`;
    draft.style.height = `${((y1 - y0) / H) * 100}%`;
    draft.hidden = false;
    return [x0, y0, x1, y1];
  };
  layer.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    start = at(ev);
    layer.setPointerCapture(ev.pointerId);
  });
  layer.addEventListener("pointermove", (ev) => {
    if (start) show(start, at(ev));
  });
  layer.addEventListener("pointerup", (ev) => {
    if (!start) return;
    const box = show(start, at(ev));
    start = null;
    if (box[2] - box[0] < 2 || box[3] - box[1] < 2) return; // a click, not a box
    ["x0", "y0", "x1", "y1"].forEach((n, i) => { field(n).value = box[i]; });
    setDrawing(false);
    field("kind").focus();
  });
  // typed corners move the drawn box too
  ["x0", "y0", "x1", "y1"].forEach((n) => field(n).addEventListener("input", () => {
    const v = ["x0", "y0", "x1", "y1"].map((k) => Number(field(k).value));
    if (v.every((x) => Number.isFinite(x)) && v[2] > v[0] && v[3] > v[1]) show([v[0], v[1]], [v[2], v[3]]);
  }));
})();
