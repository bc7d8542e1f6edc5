// Graph page: draw the server's neighbourhood with Cytoscape.js; a click expands a node.
"use strict";
(function () {
  const box = document.getElementById("cy");
  const dataEl = document.getElementById("graph-data");
  if (!box || !dataEl || typeof cytoscape !== "function") return;
  const COLORS = {
    series: "#0b5394", case: "#8250df", victim: "#1a7f37",
    offender: "#cf222e", location: "#9a6700", agency: "#57606a",
  };
  const chosen = () => Array.from(document.querySelectorAll("input[name=types]:checked"))
    .map((i) => i.value);
  const cy = cytoscape({
    container: box,
    wheelSensitivity: 0.3,
    minZoom: 0.2,
    maxZoom: 1.3,
    style: [
      { selector: "node", style: {
        "background-color": (n) => COLORS[n.data("type")] || "#888",
        label: "data(label)", "font-size": 11, color: "#1d2329",
        "text-valign": "bottom", "text-margin-y": 4, width: 22, height: 22,
        "text-wrap": "ellipsis", "text-max-width": 140,
      } },
      { selector: "node[?center]", style: { width: 34, height: 34, "border-width": 3, "border-color": "#d4a72c" } },
      { selector: "node[?expanded]", style: { "border-width": 2, "border-color": "#1d2329" } },
      { selector: "edge", style: {
        width: (e) => Math.min(1 + Math.log2(e.data("weight") || 1), 6),
        "line-color": "#8c959f", "curve-style": "bezier",
        label: "data(relation)", "font-size": 9, color: "#57606a",
        "text-rotation": "autorotate", "text-background-color": "#fff", "text-background-opacity": 0.8,
      } },
    ],
  });
  box.cy = cy; // for the browser tests (and the console)
  const add = (view) => {
    const els = [];
    const node = (n, extra) => ({ group: "nodes", data: { id: n.key, label: `${n.type} ${n.label}`, type: n.type, ...extra } });
    if (view.center && !cy.getElementById(view.center.key).length) els.push(node(view.center, { center: true }));
    view.nodes.forEach((n) => { if (!cy.getElementById(n.key).length) els.push(node(n, {})); });
    view.edges.forEach((e) => {
      const id = [e.source, e.target].sort().join("~"); // one edge per pair, either way
      if (!cy.getElementById(id).length) els.push({ group: "edges", data: { id, source: e.source, target: e.target, relation: e.relation, weight: e.weight } });
    });
    cy.add(els);
    if (view.center) cy.getElementById(view.center.key).data("expanded", true);
    cy.layout({
      name: "cose", animate: false, randomize: false, padding: 40, nodeOverlap: 20,
      nodeRepulsion: () => 60000, idealEdgeLength: () => 140, edgeElasticity: () => 80,
    }).run();
    box.dataset.nodes = String(cy.nodes().length);
  };
  add(JSON.parse(dataEl.textContent));
  cy.on("tap", "node", async (ev) => {
    const n = ev.target;
    if (n.data("expanded")) return;
    const q = new URLSearchParams({ node: n.id() });
    chosen().forEach((t) => q.append("types", t));
    const r = await fetch(`/graph/data?${q}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (r.ok) add(await r.json());
  });
  cy.on("dbltap", "node", (ev) => { window.location.href = `/graph?node=${encodeURIComponent(ev.target.id())}`; });
})();
