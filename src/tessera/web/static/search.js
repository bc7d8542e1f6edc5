// Search page: a file dropped on the drop zone is sent for hashing (never stored).
"use strict";
(function () {
  const drop = document.getElementById("drop");
  if (drop) {
    const input = drop.querySelector("input[type=file]");
    ["dragenter", "dragover"].forEach((e) => drop.addEventListener(e, (ev) => {
      ev.preventDefault();
      drop.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((e) => drop.addEventListener(e, () => drop.classList.remove("over")));
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault();
      if (!ev.dataTransfer || !ev.dataTransfer.files.length) return;
      input.files = ev.dataTransfer.files;
      drop.submit();
    });
  }
  // After a search, move the keyboard focus to the results' heading.
  const heading = document.getElementById("h-results");
  if (heading) heading.focus();
})();
