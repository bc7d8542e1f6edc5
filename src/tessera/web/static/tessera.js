// Tessera web UI: small progressive enhancements, no libraries.
"use strict";
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Reveal one picture at a time; the server records each reveal before we unblur.
  document.addEventListener("click", async (ev) => {
    const btn = ev.target.closest(".tile .reveal");
    if (!btn) return;
    const tile = btn.closest(".tile");
    if (tile.classList.contains("revealed")) {
      tile.classList.remove("revealed");
      btn.setAttribute("aria-pressed", "false");
      return;
    }
    const id = tile.dataset.media;
    const r = await fetch(`/reveal/${encodeURIComponent(id)}`, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!r.ok) return;
    document.querySelectorAll(".tile.revealed").forEach((t) => {
      t.classList.remove("revealed");
      const b = t.querySelector(".reveal");
      if (b) b.setAttribute("aria-pressed", "false");
    });
    tile.classList.add("revealed");
    btn.setAttribute("aria-pressed", "true");
  });

  // Never autoplay; start muted.
  document.querySelectorAll("video, audio").forEach((m) => {
    m.autoplay = false;
    m.muted = true;
    m.removeAttribute("autoplay");
  });

  // Live progress of a triage job: poll, update, reload when it ends.
  const prog = document.getElementById("progress");
  if (prog && ["queued", "running"].includes(prog.dataset.state)) {
    const bar = prog.querySelector("progress");
    const state = prog.querySelector("[data-testid=state]");
    const done = prog.querySelector("[data-testid=done]");
    const tick = async () => {
      try {
        const r = await fetch(`/triage/jobs/${prog.dataset.job}/progress`, {
          headers: { Accept: "application/json" }, credentials: "same-origin",
        });
        if (r.ok) {
          const j = await r.json();
          bar.max = j.total || 1; bar.value = j.done;
          state.textContent = j.state; state.className = `state ${j.state}`;
          done.textContent = j.done;
          if (!["queued", "running"].includes(j.state)) { window.location.reload(); return; }
        }
      } catch (e) { /* the server restarting: try again */ }
      setTimeout(tick, 700);
    };
    setTimeout(tick, 400);
  }
})();
