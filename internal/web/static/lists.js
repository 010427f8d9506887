// Reloads section#list[data-refresh] of an active list in place every
// data-refresh seconds, while the tab is visible, keeping the filters (the
// page's own URL). Without JavaScript the list is the same, only static.
(function () {
  "use strict";
  var list = document.getElementById("list");
  if (!list || !window.fetch || !window.DOMParser) return;
  var every = parseInt(list.getAttribute("data-refresh"), 10);
  if (!(every > 0)) return;
  function reload() {
    if (document.hidden) return;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("list");
        var cur = document.getElementById("list");
        if (fresh && cur) cur.replaceWith(fresh);
      })
      .catch(function () { /* keep the rows shown; the next tick tries again */ });
  }
  setInterval(reload, every * 1000);
})();
