// Live updates: every two seconds fetch this page again and swap the part marked live.
// Paused while the tab is hidden or a form field has focus; a failed fetch shows "offline".
(function () {
  const live = document.getElementById("live");
  const state = document.getElementById("live-state");
  if (!live) return;
  async function refresh() {
    if (document.hidden || (document.activeElement && document.activeElement.closest("#live form"))) return;
    try {
      const response = await fetch(location.href, { headers: { "X-Queuack-Live": "1" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("live");
      if (fresh && fresh.innerHTML !== live.innerHTML) live.innerHTML = fresh.innerHTML;
      if (state) { state.textContent = "live"; state.className = "live-state on"; }
    } catch (error) {
      if (state) { state.textContent = "offline"; state.className = "live-state off"; }
    }
  }
  setInterval(refresh, 2000);
})();
