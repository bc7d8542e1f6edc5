// Series report: the Print button (no inline handlers: the CSP forbids them).
"use strict";
(function () {
  const b = document.getElementById("print");
  if (b) b.addEventListener("click", () => window.print());
})();
