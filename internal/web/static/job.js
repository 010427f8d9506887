// The job page's script (templates/job.html): tabs without reloading,
// the Timing tab loaded when opened, earlier log lines loaded on demand,
// and the live log and state over server-sent events (log_stream). The
// page works without it; ids and classes are listed in joblog.go.
(function () {
  "use strict";
  var page = document.getElementById("job-page");
  if (!page) { return; }

  // Tabs.
  var tabs = document.querySelectorAll("#job-tabs .job-tab");
  function showTab(name, push) {
    tabs.forEach(function (t) {
      var on = t.dataset.tab === name;
      t.classList.toggle("active", on);
      if (on) { t.setAttribute("aria-selected", "true"); } else { t.removeAttribute("aria-selected"); }
    });
    document.querySelectorAll(".job-tab-panel").forEach(function (p) {
      p.classList.toggle("active", p.id === "tab-" + name);
    });
    if (name === "timing") { loadTiming(); }
    if (push) {
      var u = new URL(window.location.href);
      if (name === "log") { u.searchParams.delete("tab"); } else { u.searchParams.set("tab", name); }
      u.hash = "";
      history.replaceState(null, "", u.toString());
    }
  }
  tabs.forEach(function (t) {
    t.addEventListener("click", function (e) {
      if (e.ctrlKey || e.metaKey || e.shiftKey) { return; }
      e.preventDefault();
      showTab(t.dataset.tab, true);
    });
  });

  // A link to a log line (#L123) shows the Log tab and opens the
  // sections around the line.
  function showLine() {
    if (!/^#L\d+$/.test(window.location.hash)) { return; }
    var el = document.getElementById(window.location.hash.slice(1));
    if (!el) { return; }
    showTab("log", false);
    for (var p = el.parentElement; p; p = p.parentElement) {
      if (p.tagName === "DETAILS") { p.open = true; }
    }
    el.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", showLine);
  showLine();

  var timingLoaded = false;
  function loadTiming() {
    var panel = document.getElementById("tab-timing");
    var block = document.getElementById("timing-block");
    if (timingLoaded || !panel || !block || block.querySelector("svg, table, .tl-empty")) { return; }
    timingLoaded = true;
    block.textContent = "Loading the timing…";
    fetch(panel.dataset.src, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(r.status + " " + r.statusText); }
      return r.text();
    }).then(function (html) {
      block.innerHTML = html;
    }).catch(function (err) {
      block.textContent = "Unable to load the timing: " + err.message;
      timingLoaded = false;
    });
  }

  // The log.
  var log = document.getElementById("log");
  var lines = document.getElementById("log-lines");
  var live = document.getElementById("log-live");
  if (!log || !lines) { return; }

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  }

  // Earlier lines: fetched by range and put before the first line.
  var earlier = document.getElementById("log-earlier");
  if (earlier) {
    earlier.addEventListener("click", function (e) {
      e.preventDefault();
      var first = parseInt(log.dataset.first, 10);
      var start = Math.max(0, first - 300);
      earlier.textContent = "Loading…";
      fetch(log.dataset.lines + "?start=" + start + "&end=" + first, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) { throw new Error(r.status + " " + r.statusText); }
        var from = parseInt(r.headers.get("X-Log-First") || start, 10);
        return r.text().then(function (html) { return [from, html]; });
      }).then(function (res) {
        var before = document.documentElement.scrollHeight;
        lines.insertBefore(fragment(res[1]), lines.firstChild);
        window.scrollBy(0, document.documentElement.scrollHeight - before);
        log.dataset.first = res[0];
        if (res[0] <= 0) {
          earlier.parentNode.remove();
        } else {
          earlier.textContent = "Earlier lines (" + res[0] + " not shown)";
        }
      }).catch(function (err) {
        earlier.textContent = "Earlier lines (failed: " + err.message + ")";
      });
    });
  }

  // The sections still open at the end of the log: the live lines go
  // into the innermost.
  var stack = [];
  (function () {
    var node = lines.lastElementChild;
    while (node && node.tagName === "DETAILS" && !node.querySelector(":scope > .log-end")) {
      stack.push(node);
      node = node.lastElementChild;
    }
  })();

  function atBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 40;
  }

  function addLine(l) {
    var el = fragment(l.html).firstElementChild;
    if (!el) { return; }
    var parent = stack.length ? stack[stack.length - 1] : lines;
    if (l.action === "start") {
      var d = document.createElement("details");
      d.className = "log-section";
      d.dataset.level = l.level;
      d.open = true;
      var s = document.createElement("summary");
      s.appendChild(el);
      d.appendChild(s);
      parent.appendChild(d);
      stack.push(d);
      return;
    }
    if (l.action === "end") {
      for (var k = stack.length - 1; k >= 0; k--) {
        if (stack[k].dataset.level === l.level) {
          var sec = stack[k];
          sec.appendChild(el);
          if (!sec.querySelector(".lvl-error, .lvl-exception")) { sec.open = false; }
          stack.length = k;
          return;
        }
      }
    }
    if (el.classList.contains("lvl-error") || el.classList.contains("lvl-exception")) {
      stack.forEach(function (s) { s.open = true; });
    }
    parent.appendChild(el);
  }

  function setState(st) {
    var label = document.getElementById("job-state");
    if (label) {
      label.textContent = st.label;
      label.className = "badge st-" + st.label.toLowerCase();
      label.dataset.state = st.state;
      label.dataset.health = st.health;
      if (st.finished) { label.dataset.finished = "1"; }
    }
    setLink("job-device", "/scheduler/device/", st.device);
    setLink("job-worker", "/scheduler/worker/", st.worker);
    if (st.started) { setText("job-started", st.started); }
    if (st.ended) { setText("job-ended", st.ended); }
    if (st.duration) { setText("job-duration", st.duration); }
    var err = document.getElementById("job-error");
    if (err && st.error) {
      err.hidden = false;
      err.textContent = st.error;
    }
    if (st.finished) {
      var c = document.getElementById("job-cancel");
      if (c) { c.remove(); }
    }
  }
  function setLink(id, base, name) {
    var el = document.getElementById(id);
    if (!el || !name || el.textContent === name) { return; }
    el.textContent = "";
    var a = document.createElement("a");
    a.href = base + encodeURIComponent(name);
    a.textContent = name;
    el.appendChild(a);
  }
  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  if (log.dataset.finished === "1" || !window.EventSource) { return; }
  // Follow only from the end of the log: a window opened with ?start=N
  // shows a fixed range.
  if (document.getElementById("log-later")) { return; }
  var es = new EventSource(log.dataset.stream + "?line=" + log.dataset.next);
  if (live) { live.textContent = "live"; }
  es.addEventListener("lines", function (e) {
    var d = JSON.parse(e.data);
    var follow = atBottom();
    var empty = document.getElementById("log-empty");
    if (empty) { empty.remove(); }
    d.lines.forEach(addLine);
    log.dataset.next = d.next;
    if (follow) { window.scrollTo(0, document.documentElement.scrollHeight); }
  });
  es.addEventListener("skip", function (e) {
    var d = JSON.parse(e.data);
    var p = document.createElement("p");
    p.className = "log-skip";
    p.textContent = "Lines " + d.from + " to " + (d.to - 1) + " are not shown here: see the plain log.";
    lines.appendChild(p);
    stack = [];
  });
  es.addEventListener("state", function (e) { setState(JSON.parse(e.data)); });
  es.addEventListener("end", function () {
    es.close();
    log.dataset.finished = "1";
    if (live) { live.textContent = "finished"; live.classList.add("finished"); }
    refreshFinished();
  });

  // Once the job is finished, its results, counts and description are
  // stored: take them from a fresh copy of the page, the log kept as it
  // is.
  function refreshFinished() {
    fetch(window.location.pathname, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      ["job-header", "job-actions", "tab-results", "tab-description"].forEach(function (id) {
        var cur = document.getElementById(id), fresh = doc.getElementById(id);
        if (cur && fresh) {
          if (cur.classList.contains("active")) { fresh.classList.add("active"); } else { fresh.classList.remove("active"); }
          cur.replaceWith(fresh);
        }
      });
    }).catch(function () { /* the page as it is stays right but for the counts */ });
  }
  es.onerror = function () {
    if (live && es.readyState !== EventSource.CLOSED) { live.textContent = "reconnecting…"; }
  };
  es.onopen = function () { if (live) { live.textContent = "live"; } };
})();
