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
        "text-wrap": "wrap", "text-max-width": 120,
        // a label stays readable where an edge or a neighbour's label crosses it
        "text-background-color": "#fff", "text-background-opacity": 0.9,
        "text-background-padding": 2, "text-background-shape": "roundrectangle",
      } },
      { selector: "node[?center]", style: { width: 34, height: 34, "border-width": 3, "border-color": "#d4a72c" } },
      { selector: "node[?expanded]", style: { "border-width": 2, "border-color": "#1d2329" } },
      { selector: "edge", style: {
        width: (e) => Math.min(1 + Math.log2(e.data("weight") || 1), 6),
        "line-color": "#8c959f", "curve-style": "bezier",
        label: "data(relation)", "font-size": 9, color: "#57606a", "min-zoomed-font-size": 7,
        "text-rotation": "autorotate", "text-background-color": "#fff", "text-background-opacity": 0.8,
      } },
    ],
  });
  box.cy = cy; // for the browser tests (and the console)
  let root = null;
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
    if (root === null && view.center) root = view.center.key;
    if (root === null && cy.nodes().length) root = cy.nodes()[0].id();
    if (root === null) { box.dataset.nodes = "0"; return; }
    // rows by distance from the first centre (a tree read top-down); label boxes count
    // as the nodes' size, so no two labels overlap however many nodes an expansion adds
    // (rings put two nodes of a ring opposite each other: their edges drew one line)
    cy.layout({
      name: "breadthfirst", circle: false, roots: [root], animate: false, fit: true,
      avoidOverlap: true, nodeDimensionsIncludeLabels: true, spacingFactor: 1.15, padding: 30,
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
